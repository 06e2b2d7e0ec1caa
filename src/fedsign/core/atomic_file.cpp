#include "fedsign/core/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <vector>

#include "fedsign/core/check.h"

namespace fedsign {
namespace fs = std::filesystem;

namespace {
// ".NAME.tmpPID-N": hidden, beside the target (one file system, so the rename is atomic), and
// named for the writing process, so that remove_stale_temporaries can tell a dead writer's.
constexpr const char* kTempMarker = ".tmp";

fs::path temp_path_for(const fs::path& path) {
  static std::atomic<unsigned> counter{0};
  return path.parent_path() /
         fmt::format(".{}{}{}-{}", path.filename().string(), kTempMarker, ::getpid(), counter++);
}

// The writer's process id in a temporary of `path`, or nothing when `name` is not one.
std::optional<pid_t> temporary_writer(const std::string& name, const fs::path& path) {
  const std::string prefix = "." + path.filename().string() + kTempMarker;
  if (name.rfind(prefix, 0) != 0) return std::nullopt;
  const std::string rest = name.substr(prefix.size());
  const auto dash = rest.find('-');
  if (dash == 0 || dash == std::string::npos) return std::nullopt;
  const std::string pid = rest.substr(0, dash);
  if (pid.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return static_cast<pid_t>(std::stol(pid));
}

fs::path directory_of(const fs::path& path) {
  return path.has_parent_path() ? path.parent_path() : fs::path(".");
}
// A second name for the current generation (a hard link, or a copy where the file system has
// none), made before the new file replaces it. The rotation is then: second name, publish the new
// file, rename the second name over `previous`. At every moment the target exists and is complete,
// and `previous` is a separate, older file: a kill after the publish leaves `previous` one
// generation older than ideal (and a stray second name), never one file under both names.
// Renaming the target itself away instead would leave a moment with no target.
fs::path second_name_of(const fs::path& path, const fs::path& previous) {
  const fs::path name = temp_path_for(previous);
  try {
    std::error_code no_link;
    fs::create_hard_link(path, name, no_link);
    if (no_link) fs::copy_file(path, name, fs::copy_options::overwrite_existing);
  } catch (...) {
    std::error_code ignored;
    fs::remove(name, ignored);
    throw;
  }
  return name;
}
}  // namespace

int remove_stale_temporaries(const fs::path& path, const fs::path& keep_previous) {
  const fs::path dir = directory_of(path);
  if (!fs::is_directory(dir)) return 0;
  std::vector<fs::path> stale;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    std::optional<pid_t> writer = temporary_writer(name, path);
    if (!writer && !keep_previous.empty()) writer = temporary_writer(name, keep_previous);
    // ESRCH: no such process. A live one (this process, or another writer) keeps its file.
    if (writer && ::kill(*writer, 0) != 0 && errno == ESRCH) stale.push_back(entry.path());
  }
  for (const auto& file : stale) fs::remove(file);
  return static_cast<int>(stale.size());
}

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
  fs::path outgoing;  // second name of the generation being replaced, when one is kept
  try {
    write(tmp);
    FEDSIGN_CHECK(fs::exists(tmp), "{}: writer produced no output", path.string());
    if (options.durable) fsync_path(tmp);  // the data, before a rename makes it visible
    if (!options.keep_previous.empty() && fs::exists(path))
      outgoing = second_name_of(path, options.keep_previous);
    fs::rename(tmp, path);
    if (!outgoing.empty()) fs::rename(outgoing, options.keep_previous);
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    if (!outgoing.empty()) fs::remove(outgoing, ignored);
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
