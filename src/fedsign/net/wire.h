// Conversions between fl/net values and the generated protobuf messages (internal header: the
// only one besides the service/client sources that includes generated code).
#pragma once

#include <functional>

#include "fedsign/fl/messages.h"
#include "fedsign/net/blob.h"
#include "fedsign/v1/federation.pb.h"

namespace fedsign::net {

void to_proto(const Blob& blob, v1::BlobHeader* header);  // specs, size, checksum (no data)
Status from_proto(const v1::BlobHeader& header, std::vector<TensorSpec>* specs);

void to_proto(const fl::Config& config, google::protobuf::Map<std::string, v1::ConfigValue>* out);
fl::Config from_proto(const google::protobuf::Map<std::string, v1::ConfigValue>& config);

// Calls `send(chunk)` for consecutive chunks of at most kMaxChunkBytes; stops (returns false)
// when send does.
bool for_each_chunk(const std::string& bytes, const std::function<bool(const std::string&)>& send);

// Appends a received chunk, refusing to grow past `expected` bytes.
Status append_chunk(std::string* bytes, const std::string& chunk, uint64_t expected);

}  // namespace fedsign::net
