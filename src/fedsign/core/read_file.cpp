#include "fedsign/core/read_file.h"

#include <fstream>
#include <sstream>

#include "fedsign/core/check.h"

namespace fedsign {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  FEDSIGN_CHECK(in.good(), "cannot read {}", path.string());
  std::stringstream s;
  s << in.rdbuf();
  FEDSIGN_CHECK(!in.bad(), "{}: read failed", path.string());
  return s.str();
}

}  // namespace fedsign
