// Decoding an encoded image held in memory (PNG, JPEG, PPM... bytes, e.g. an HTTP request body)
// exactly as data::decode_image decodes a file (image_loader.h): crop to the ROI, resize,
// contrast. Implemented in image_loader.cpp, which shares the code with file decoding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "fedsign/data/image_loader.h"

namespace fedsign::data {

// Writes options.size^2 * 3 RGB bytes at `out`. Returns an empty string on success, else why the
// bytes cannot be decoded; never throws for bad bytes.
std::string decode_image_bytes(const std::uint8_t* bytes, std::size_t size, const Roi* roi,
                               const LoadOptions& options, std::uint8_t* out);

}  // namespace fedsign::data
