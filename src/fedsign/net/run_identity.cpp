#include "fedsign/net/run_identity.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <regex>
#include <vector>

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"

namespace fedsign::net {

namespace fs = std::filesystem;

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  FEDSIGN_CHECK(RAND_bytes(raw.data(), static_cast<int>(raw.size())) == 1, "OpenSSL RAND_bytes failed");
  std::string out;
  out.reserve(2 * bytes);
  for (unsigned char b : raw) out += fmt::format("{:02x}", b);
  return out;
}

std::string federation_run_id(const fs::path& run_dir, bool resume) {
  const fs::path file = run_dir / "run_id";
  if (resume && fs::exists(file)) {
    std::ifstream in(file);
    std::string id;
    std::getline(in, id);
    FEDSIGN_CHECK(std::regex_match(id, std::regex("[0-9a-f]{32}")),
                  "{}: not a run id (32 hex digits expected)", file.string());
    return id;
  }
  const std::string id = random_hex(16);
  write_stream_atomically(file, [&](std::ostream& out) { out << id << "\n"; }, {.durable = true});
  if (resume) spdlog::info("{} had no run id: clients' saved states start over", run_dir.string());
  return id;
}

}  // namespace fedsign::net
