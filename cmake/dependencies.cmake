# Every dependency is a Debian 12 package installed by scripts/setup.sh.
find_package(Torch REQUIRED)          # libtorch-dev 1.13.1 (CPU)
find_package(OpenCV REQUIRED COMPONENTS core imgproc imgcodecs)
find_package(CLI11 REQUIRED)          # libcli11-dev: flags + TOML/INI config files
find_package(nlohmann_json REQUIRED)  # nlohmann-json3-dev
find_package(spdlog REQUIRED)         # libspdlog-dev (brings fmt)
find_package(Threads REQUIRED)

# MathGL (libmgl-dev) writes PNG plots in-process, no X server needed.
find_library(MATHGL_LIBRARY NAMES mgl REQUIRED)
find_path(MATHGL_INCLUDE_DIR mgl2/mgl.h REQUIRED)
add_library(fedsign_mathgl INTERFACE)
target_link_libraries(fedsign_mathgl INTERFACE ${MATHGL_LIBRARY})
target_include_directories(fedsign_mathgl SYSTEM INTERFACE ${MATHGL_INCLUDE_DIR})

# LibTorch's CMake config exports flags as a string; wrap it as a proper interface target.
add_library(fedsign_torch INTERFACE)
target_link_libraries(fedsign_torch INTERFACE ${TORCH_LIBRARIES})
target_include_directories(fedsign_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
target_compile_options(fedsign_torch INTERFACE -Wno-deprecated-declarations)
# gRPC's targets add -pthread (which defines _REENTRANT); the precompiled header must be built
# with the same flag or GCC ignores it in every translation unit that uses gRPC.
target_compile_options(fedsign_torch INTERFACE -pthread)
# libxxhash-dev, used header-only by core/hash.cpp (XXH3).
find_path(XXHASH_INCLUDE_DIR xxhash.h REQUIRED)
