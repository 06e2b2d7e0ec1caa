// A temporary directory removed when the object goes out of scope.
#pragma once

#include <filesystem>

namespace fedsign::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::filesystem::path& p) const { return path_ / p; }

 private:
  std::filesystem::path path_;
};

// ../shared/data/gtsrb if present (real-data tests skip otherwise).
std::filesystem::path real_gtsrb_dir();

}  // namespace fedsign::testing
