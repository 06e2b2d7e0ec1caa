#include "fedsign/core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
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

fs::path directory_of(const fs::path& path) {
  return path.has_parent_path() ? path.parent_path() : fs::path(".");
}
// The current generation becomes `previous` while staying in place: a second name for it (a hard
// link, or a copy where the file system has none) is renamed over `previous`. Renaming the target
// itself away would leave a moment with no target, and a process killed then would leave only the
// older generation (a resuming server would redo a round it had finished).
void keep_as_previous(const fs::path& path, const fs::path& previous) {
  const fs::path link = temp_path_for(previous);
  try {
    std::error_code no_link;
    fs::create_hard_link(path, link, no_link);
    if (no_link) fs::copy_file(path, link, fs::copy_options::overwrite_existing);
    fs::rename(link, previous);
  } catch (...) {
    std::error_code ignored;
    fs::remove(link, ignored);
    throw;
  }
}
}  // namespace

void fsync_path(const fs::path& path) {
  const bool directory = fs::is_directory(path);
  const int fd = ::open(path.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  FEDSIGN_CHECK(fd >= 0, "{}: cannot open for fsync: {}", path.string(), std::strerror(errno));
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  FEDSIGN_CHECK(rc == 0, "{}: fsync failed: {}", path.string(), std::strerror(error));
}

void start_writeback(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  ::close(fd);
}

void write_atomically(const fs::path& path, const std::function<void(const fs::path&)>& write,
                      const AtomicWriteOptions& options) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  const fs::path tmp = temp_path_for(path);
  try {
    write(tmp);
    FEDSIGN_CHECK(fs::exists(tmp), "{}: writer produced no output", path.string());
    if (options.durable) fsync_path(tmp);  // the data, before a rename makes it visible
    if (!options.keep_previous.empty() && fs::exists(path)) keep_as_previous(path, options.keep_previous);
    fs::rename(tmp, path);
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
  if (options.durable) fsync_path(directory_of(path));  // the renames
}

void write_stream_atomically(const fs::path& path, const std::function<void(std::ostream&)>& write,
                             const AtomicWriteOptions& options) {
  write_atomically(
      path,
      [&](const fs::path& tmp) {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        FEDSIGN_CHECK(out.good(), "{}: cannot open for writing", tmp.string());
        write(out);
        out.flush();
        FEDSIGN_CHECK(out.good(), "{}: write failed (disk full?)", path.string());
      },
      options);
}

void write_text_atomically(const fs::path& path, std::string_view text) {
  write_stream_atomically(path, [&](std::ostream& out) { out.write(text.data(), text.size()); });
}

}  // namespace fedsign
