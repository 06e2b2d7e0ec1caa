// Whole-file reads (certificates, keys, small text files).
#pragma once

#include <filesystem>
#include <string>

namespace fedsign {

// The file's bytes; throws fedsign::Error naming the file if it cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace fedsign
