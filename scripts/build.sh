#!/usr/bin/env bash
# Configures and builds fedsign (Release, Ninja, ccache) into ./build. Extra args go to CMake.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" > build-configure.log 2>&1 ||
  { cat build-configure.log; exit 1; }
rm -f build-configure.log
# 2 parallel jobs: each LibTorch translation unit needs ~1 GB of RAM while compiling.
cmake --build build -j "${FEDSIGN_BUILD_JOBS:-$(nproc)}"
