#include "fedsign/core/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"

namespace fedsign {
namespace fs = std::filesystem;

void fsync_path(const fs::path& path) {
  const bool directory = fs::is_directory(path);
  const int fd = ::open(path.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  FEDSIGN_CHECK(fd >= 0, "{}: cannot open for fsync: {}", path.string(), std::strerror(errno));
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  FEDSIGN_CHECK(rc == 0, "{}: fsync failed: {}", path.string(), std::strerror(error));
}

void write_stream_durably(const fs::path& path, const std::function<void(std::ostream&)>& write) {
  write_atomically(path, [&](const fs::path& tmp) {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      FEDSIGN_CHECK(out.good(), "{}: cannot open for writing", tmp.string());
      write(out);
      out.flush();
      FEDSIGN_CHECK(out.good(), "{}: write failed (disk full?)", path.string());
    }
    fsync_path(tmp);  // the data, before the rename makes it visible
  });
  fsync_path(path.has_parent_path() ? path.parent_path() : fs::path("."));  // the rename
}

}  // namespace fedsign
