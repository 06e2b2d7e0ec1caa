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
  // If set and the target exists, the replaced generation is kept here (a second name for it is
  // made before the new file takes its place and renamed here after): at every moment the target
  // exists and is complete (old or new), and once there were two generations keep_previous holds
  // a separate, older complete one (after a kill between the two renames, one generation older).
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

// Removes the temporary files that writes of `path` left behind when their process died (a kill
// mid-write): those named for `path` or for `keep_previous` (the rotation's second name), whose
// process id is no longer running. Returns how many were removed. For a resuming server, so that
// crashes do not pile up hidden checkpoint-sized files.
int remove_stale_temporaries(const std::filesystem::path& path,
                             const std::filesystem::path& keep_previous = {});

// fsync of a file, or of a directory (its entries, e.g. a rename in it). Throws fedsign::Error
// naming the path.
void fsync_path(const std::filesystem::path& path);

// Starts writing a file's data to disk without waiting for it (Linux sync_file_range), so a
// later fsync_path of it has little left to wait for. Best effort: no error is reported (the
// fsync that follows reports them).
void start_writeback(const std::filesystem::path& path);

}  // namespace fedsign
