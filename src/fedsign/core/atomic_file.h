// Atomic file output: write to a temporary file beside the target, then rename over it,
// so a crash or a full disk never leaves a half-written checkpoint, cache or report.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>
#include <string_view>

namespace fedsign {

// Calls `write(tmp_path)`, which must create tmp_path; then renames it to `path`.
// On any exception the temporary file is removed and the exception propagates.
void write_atomically(const std::filesystem::path& path,
                      const std::function<void(const std::filesystem::path& tmp_path)>& write);

// Streams into a temporary file through `write(stream)`, then renames it to `path`.
void write_stream_atomically(const std::filesystem::path& path,
                             const std::function<void(std::ostream&)>& write);

void write_text_atomically(const std::filesystem::path& path, std::string_view text);

}  // namespace fedsign
