// Where a top-k upload's values go, as bytes on the wire: the positions (ascending, into the
// flattened tensor) are sent as gaps, each position minus the one before minus one (the first
// as itself), in LEB128 varints (7 bits a byte, the high bit saying another byte follows; the
// varint of protobuf). At 1% of a tensor a gap is about 100, one or two bytes, where an int32
// index took four: a top-1% upload shrinks from 8 bytes a value to about 5.2. The gap minus one
// makes a repeated or descending position impossible to write, so the decoder only bounds it.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>

namespace fedsign::fl::compress {

// The bytes (uint8, 1-D) of `positions` (int32 or int64, 1-D, strictly ascending, >= 0).
torch::Tensor encode_positions(const torch::Tensor& positions);
// How many bytes encode_positions writes, without writing them.
int64_t encoded_positions_bytes(const torch::Tensor& positions);

// The `count` positions (int32) that `bytes` (uint8, 1-D) encode for a tensor of `numel`
// values. Throws fedsign::Error naming `tensor` when the bytes end early, a varint runs past
// five bytes, a position lies outside the tensor, or bytes are left over.
torch::Tensor decode_positions(const torch::Tensor& bytes, int64_t count, int64_t numel,
                               const std::string& tensor);

}  // namespace fedsign::fl::compress
