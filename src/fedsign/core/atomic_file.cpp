#include "fedsign/core/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <fstream>

#include "fedsign/core/check.h"

namespace fedsign {
namespace fs = std::filesystem;

namespace {
fs::path temp_path_for(const fs::path& path) {
  static std::atomic<unsigned> counter{0};
  return path.parent_path() /
         fmt::format(".{}.tmp{}-{}", path.filename().string(), ::getpid(), counter++);
}
}  // namespace

void write_atomically(const fs::path& path, const std::function<void(const fs::path&)>& write) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  const fs::path tmp = temp_path_for(path);
  try {
    write(tmp);
    FEDSIGN_CHECK(fs::exists(tmp), "{}: writer produced no output", path.string());
    fs::rename(tmp, path);
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
}

void write_stream_atomically(const fs::path& path, const std::function<void(std::ostream&)>& write) {
  write_atomically(path, [&](const fs::path& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    FEDSIGN_CHECK(out.good(), "{}: cannot open for writing", tmp.string());
    write(out);
    out.flush();
    FEDSIGN_CHECK(out.good(), "{}: write failed (disk full?)", path.string());
  });
}

void write_text_atomically(const fs::path& path, std::string_view text) {
  write_stream_atomically(path, [&](std::ostream& out) { out.write(text.data(), text.size()); });
}

}  // namespace fedsign
