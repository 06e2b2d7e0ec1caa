// Atomic file output: write to a temporary file beside the target, then rename over it,
// so a crash or a full disk never leaves a half-written checkpoint, cache or report.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>
#include <string_view>

namespace fedsign {

struct AtomicWriteOptions {
  // false: survives a crash of the process (temp file + rename). true: also a power cut or a
  // kernel crash: fsync of the temporary file before the rename and of the directory after it.
  // Costs a few milliseconds per file; for files whose loss costs work (the server checkpoint).
  bool durable = false;
  // If set and the target exists, the target is kept here (linked, not moved) just before the new
  // file takes its place: at every moment the target exists and is complete (old or new), and
  // keep_previous holds a complete earlier generation once there has been one.
  std::filesystem::path keep_previous;
};

// Calls `write(tmp_path)`, which must create tmp_path; then renames it to `path`.
// On any exception the temporary file is removed and the exception propagates.
void write_atomically(const std::filesystem::path& path,
                      const std::function<void(const std::filesystem::path& tmp_path)>& write,
                      const AtomicWriteOptions& options = {});

// Streams into a temporary file through `write(stream)`, then renames it to `path`.
void write_stream_atomically(const std::filesystem::path& path,
                             const std::function<void(std::ostream&)>& write,
                             const AtomicWriteOptions& options = {});

void write_text_atomically(const std::filesystem::path& path, std::string_view text);

// fsync of a file, or of a directory (its entries, e.g. a rename in it). Throws fedsign::Error
// naming the path.
void fsync_path(const std::filesystem::path& path);

// Starts writing a file's data to disk without waiting for it (Linux sync_file_range), so a
// later fsync_path of it has little left to wait for. Best effort: no error is reported (the
// fsync that follows reports them).
void start_writeback(const std::filesystem::path& path);

}  // namespace fedsign
