#include "fedsign/net/wire.h"

#include <fmt/format.h>

namespace fedsign::net {

namespace {
v1::DType to_proto(c10::ScalarType t) {
  switch (t) {
    case c10::ScalarType::Float: return v1::DTYPE_FLOAT32;
    case c10::ScalarType::Double: return v1::DTYPE_FLOAT64;
    case c10::ScalarType::Long: return v1::DTYPE_INT64;
    case c10::ScalarType::Int: return v1::DTYPE_INT32;
    case c10::ScalarType::BFloat16: return v1::DTYPE_BFLOAT16;
    case c10::ScalarType::Half: return v1::DTYPE_FLOAT16;
    case c10::ScalarType::Char: return v1::DTYPE_INT8;
    case c10::ScalarType::Byte: return v1::DTYPE_UINT8;
    default: return v1::DTYPE_UNSPECIFIED;
  }
}

bool from_proto(v1::DType d, c10::ScalarType* t) {
  switch (d) {
    case v1::DTYPE_FLOAT32: *t = c10::ScalarType::Float; return true;
    case v1::DTYPE_FLOAT64: *t = c10::ScalarType::Double; return true;
    case v1::DTYPE_INT64: *t = c10::ScalarType::Long; return true;
    case v1::DTYPE_INT32: *t = c10::ScalarType::Int; return true;
    case v1::DTYPE_BFLOAT16: *t = c10::ScalarType::BFloat16; return true;
    case v1::DTYPE_FLOAT16: *t = c10::ScalarType::Half; return true;
    case v1::DTYPE_INT8: *t = c10::ScalarType::Char; return true;
    case v1::DTYPE_UINT8: *t = c10::ScalarType::Byte; return true;
    default: return false;
  }
}
}  // namespace

void to_proto(const Blob& blob, v1::BlobHeader* header) {
  header->Clear();
  for (const auto& s : blob.specs) {
    v1::TensorSpec* p = header->add_tensors();
    p->set_group(s.group);
    p->set_name(s.name);
    p->set_dtype(to_proto(s.dtype));
    for (int64_t d : s.shape) p->add_shape(d);
  }
  header->set_total_bytes(blob.bytes.size());
  header->set_checksum(blob.checksum);
}

Status from_proto(const v1::BlobHeader& header, std::vector<TensorSpec>* specs) {
  specs->clear();
  specs->reserve(header.tensors_size());
  for (const auto& p : header.tensors()) {
    TensorSpec s;
    s.group = p.group();
    s.name = p.name();
    if (!from_proto(p.dtype(), &s.dtype)) {
      return {Code::kInvalidArgument, fmt::format("tensor '{}': unknown dtype", s.name)};
    }
    s.shape.assign(p.shape().begin(), p.shape().end());
    specs->push_back(std::move(s));
  }
  return Status::Ok();
}

void to_proto(const fl::Config& config, google::protobuf::Map<std::string, v1::ConfigValue>* out) {
  out->clear();
  for (const auto& [key, value] : config) {
    v1::ConfigValue& v = (*out)[key];
    if (auto* b = std::get_if<bool>(&value)) v.set_bool_value(*b);
    else if (auto* i = std::get_if<int64_t>(&value)) v.set_int_value(*i);
    else if (auto* d = std::get_if<double>(&value)) v.set_double_value(*d);
    else v.set_string_value(std::get<std::string>(value));
  }
}

fl::Config from_proto(const google::protobuf::Map<std::string, v1::ConfigValue>& config) {
  fl::Config out;
  for (const auto& [key, v] : config) {
    switch (v.value_case()) {
      case v1::ConfigValue::kBoolValue: out[key] = v.bool_value(); break;
      case v1::ConfigValue::kIntValue: out[key] = static_cast<int64_t>(v.int_value()); break;
      case v1::ConfigValue::kDoubleValue: out[key] = v.double_value(); break;
      case v1::ConfigValue::kStringValue: out[key] = v.string_value(); break;
      default: break;
    }
  }
  return out;
}

bool for_each_chunk(const std::string& bytes, const std::function<bool(const std::string&)>& send) {
  for (std::size_t offset = 0; offset < bytes.size(); offset += kMaxChunkBytes) {
    if (!send(bytes.substr(offset, kMaxChunkBytes))) return false;
  }
  return true;
}

Status append_chunk(std::string* bytes, const std::string& chunk, uint64_t expected) {
  if (bytes->size() + chunk.size() > expected) {
    return {Code::kResourceExhausted,
            fmt::format("more data than the announced {} bytes", expected)};
  }
  if (bytes->empty()) bytes->reserve(expected);
  bytes->append(chunk);
  return Status::Ok();
}

}  // namespace fedsign::net
