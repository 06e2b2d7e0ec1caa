#include "tests/testing/temp_dir.h"

#include <unistd.h>

#include <atomic>
#include <string>

namespace fedsign::testing {

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  path_ = std::filesystem::temp_directory_path() /
          ("fedsign-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::filesystem::path real_gtsrb_dir() {
  if (const char* env = std::getenv("FEDSIGN_GTSRB_DIR")) return env;
  return std::filesystem::path(FEDSIGN_SOURCE_DIR) / ".." / "shared" / "data" / "gtsrb";
}

}  // namespace fedsign::testing
