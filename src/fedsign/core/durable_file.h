// Durable file output, for files whose loss costs work (the federated server's checkpoint):
// like write_stream_atomically (atomic_file.h: temp file + rename, so a crash never leaves a
// half-written file), and in addition fsync of the temporary file before the rename and of the
// directory after it, so that after return the new content survives a power cut or a kernel
// crash too, not only a crash of the process. Costs a few milliseconds per file.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>

namespace fedsign {

void write_stream_durably(const std::filesystem::path& path,
                          const std::function<void(std::ostream&)>& write);

// fsync of a file, or of a directory (its entries, e.g. a rename in it). Throws fedsign::Error
// naming the path.
void fsync_path(const std::filesystem::path& path);

}  // namespace fedsign
