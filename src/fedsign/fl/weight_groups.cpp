#include "fedsign/fl/weight_groups.h"

#include <torch/serialize.h>

#include <array>
#include <bit>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/core/hash.h"

namespace fedsign::fl {

namespace fs = std::filesystem;

static_assert(std::endian::native == std::endian::little,
              "weight group files store tensors little-endian, as in memory here");

namespace {

constexpr char kMagic[8] = {'F', 'S', 'W', 'G', 'R', 'P', '0', '2'};
constexpr const char* kFormat = "fedsign-weight-groups-2";
constexpr const char* kLegacyFormat = "fedsign-weight-groups-1";

constexpr std::array<std::pair<c10::ScalarType, const char*>, 9> kDtypes = {{
    {c10::ScalarType::Float, "float32"},
    {c10::ScalarType::Double, "float64"},
    {c10::ScalarType::Half, "float16"},
    {c10::ScalarType::BFloat16, "bfloat16"},
    {c10::ScalarType::Long, "int64"},
    {c10::ScalarType::Int, "int32"},
    {c10::ScalarType::Byte, "uint8"},
    {c10::ScalarType::Char, "int8"},
    {c10::ScalarType::Bool, "bool"},
}};

std::string tensor_dtype_name(c10::ScalarType type, const std::string& tensor) {
  for (const auto& [t, name] : kDtypes) {
    if (t == type) return name;
  }
  FEDSIGN_FAIL("tensor '{}': dtype {} cannot be stored", tensor, c10::toString(type));
}

c10::ScalarType dtype_from_name(const std::string& name, const std::string& where) {
  for (const auto& [t, n] : kDtypes) {
    if (name == n) return t;
  }
  FEDSIGN_FAIL("{}: unknown dtype '{}'", where, name);
}

std::size_t tensor_bytes(const torch::Tensor& t) { return t.numel() * t.element_size(); }

// The earlier format: a pickled Dict[str, Tensor] with the JSON as a uint8 tensor "meta".
std::pair<std::string, std::map<std::string, Weights>> load_legacy(const fs::path& file) {
  const std::string where = file.string();
  std::ifstream in(file, std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  const torch::IValue value = torch::pickle_load(bytes);
  FEDSIGN_CHECK(value.isGenericDict(), "{}: not a fedsign federated state file", where);
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& entry : value.toGenericDict()) {
    tensors.emplace(entry.key().toStringRef(), entry.value().toTensor());
  }
  auto meta_it = tensors.find("meta");
  FEDSIGN_CHECK(meta_it != tensors.end(), "{}: not a fedsign federated state file", where);
  const torch::Tensor meta_bytes = meta_it->second.contiguous();
  const nlohmann::json meta = nlohmann::json::parse(
      std::string(reinterpret_cast<const char*>(meta_bytes.data_ptr<uint8_t>()),
                  static_cast<std::size_t>(meta_bytes.numel())));
  FEDSIGN_CHECK(meta.value("format", "") == kLegacyFormat, "{}: not a fedsign federated state file",
                where);
  std::map<std::string, Weights> groups;
  const auto& list = meta.at("groups");
  for (std::size_t g = 0; g < list.size(); ++g) {
    Weights w;
    w.names = list[g].at("names").get<std::vector<std::string>>();
    for (std::size_t i = 0; i < w.names.size(); ++i) {
      auto it = tensors.find(fmt::format("{}/{}", g, i));
      FEDSIGN_CHECK(it != tensors.end(), "{}: tensor '{}' missing", where, w.names[i]);
      w.tensors.push_back(it->second);
    }
    groups[list[g].at("key").get<std::string>()] = std::move(w);
  }
  return {meta.at("meta").dump(), std::move(groups)};
}

std::pair<std::string, std::map<std::string, Weights>> load_current(const fs::path& file,
                                                                     std::ifstream& in,
                                                                     uint64_t file_size) {
  const std::string where = file.string();
  uint64_t header_size = 0;
  in.read(reinterpret_cast<char*>(&header_size), sizeof header_size);
  FEDSIGN_CHECK(in && 16 + header_size <= file_size, "{}: truncated (header cut off)", where);
  std::string header_text(header_size, '\0');
  in.read(header_text.data(), static_cast<std::streamsize>(header_size));
  const nlohmann::json header = nlohmann::json::parse(header_text);
  FEDSIGN_CHECK(header.value("format", "") == kFormat, "{}: not a fedsign federated state file",
                where);
  const uint64_t payload = header.at("payload_bytes").get<uint64_t>();
  FEDSIGN_CHECK(16 + header_size + payload <= file_size, "{}: truncated ({} of {} bytes)", where,
                file_size, 16 + header_size + payload);
  FEDSIGN_CHECK(16 + header_size + payload == file_size, "{}: corrupt ({} bytes after the data)",
                where, file_size - 16 - header_size - payload);

  std::map<std::string, Weights> groups;
  Hasher checksum;
  uint64_t read = 0;
  for (const auto& group : header.at("groups")) {
    Weights w;
    for (const auto& entry : group.at("tensors")) {
      const std::string name = entry.at("name");
      const auto shape = entry.at("shape").get<std::vector<int64_t>>();
      torch::Tensor t = torch::empty(shape, torch::dtype(dtype_from_name(entry.at("dtype"), where)));
      const std::size_t n = tensor_bytes(t);
      FEDSIGN_CHECK(read + n <= payload, "{}: corrupt (tensor '{}' exceeds the data)", where, name);
      in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(n));
      FEDSIGN_CHECK(in.good(), "{}: truncated (reading tensor '{}')", where, name);
      checksum.update(t.data_ptr(), n);
      read += n;
      w.names.push_back(name);
      w.tensors.push_back(std::move(t));
    }
    groups[group.at("key").get<std::string>()] = std::move(w);
  }
  FEDSIGN_CHECK(read == payload, "{}: corrupt ({} bytes of tensors, header says {})", where, read,
                payload);
  FEDSIGN_CHECK(fmt::format("{:016x}", checksum.digest()) == header.at("checksum").get<std::string>(),
                "{}: corrupt (checksum mismatch)", where);
  return {header.at("meta").dump(), std::move(groups)};
}

}  // namespace

bool supported_dtype(c10::ScalarType dtype) {
  for (const auto& [t, name] : kDtypes) {
    if (t == dtype) return true;
  }
  return false;
}

std::string dtype_name(c10::ScalarType dtype) { return tensor_dtype_name(dtype, "?"); }

int64_t TensorSpec::bytes() const {
  int64_t n = static_cast<int64_t>(c10::elementSize(dtype));
  for (int64_t d : shape) n *= d;
  return n;
}

uint64_t payload_checksum(const std::string& payload) {
  return hash_bytes(payload.data(), payload.size());
}

EncodedWeights encode_weight_groups(const WeightGroups& groups) {
  EncodedWeights out;
  std::size_t total = 0;
  for (const auto& [group, w] : groups) {
    for (std::size_t i = 0; i < w.size(); ++i) {
      const torch::Tensor& t = w.tensors[i];
      FEDSIGN_CHECK(supported_dtype(t.scalar_type()), "tensor '{}': dtype {} cannot be encoded",
                    w.names[i], c10::toString(t.scalar_type()));
      out.specs.push_back({group, w.names[i], t.scalar_type(), t.sizes().vec()});
      total += tensor_bytes(t);
    }
  }
  out.payload.resize(total);
  std::size_t offset = 0;
  for (const auto& [group, w] : groups) {
    for (const torch::Tensor& tensor : w.tensors) {
      const torch::Tensor t = tensor.cpu().contiguous();
      const std::size_t n = tensor_bytes(t);
      if (n) std::memcpy(out.payload.data() + offset, t.data_ptr(), n);
      offset += n;
    }
  }
  out.checksum = payload_checksum(out.payload);
  return out;
}

DecodeError decode_weight_groups(const std::vector<TensorSpec>& specs, const std::string& payload,
                                 uint64_t checksum, const DecodeLimits& limits, WeightGroups* out,
                                 std::string* why) {
  auto fail = [why](DecodeError e, std::string message) {
    *why = std::move(message);
    return e;
  };
  if (static_cast<int64_t>(specs.size()) > limits.max_tensors) {
    return fail(DecodeError::kTooLarge,
                fmt::format("{} tensors, limit {}", specs.size(), limits.max_tensors));
  }
  if (static_cast<int64_t>(payload.size()) > limits.max_bytes) {
    return fail(DecodeError::kTooLarge,
                fmt::format("{} bytes, limit {}", payload.size(), limits.max_bytes));
  }
  int64_t total = 0;
  for (const auto& s : specs) {
    if (!supported_dtype(s.dtype)) {
      return fail(DecodeError::kInvalid, fmt::format("tensor '{}': unsupported dtype", s.name));
    }
    int64_t n = static_cast<int64_t>(c10::elementSize(s.dtype));
    for (int64_t d : s.shape) {
      if (d < 0 || (d > 0 && n > std::numeric_limits<int64_t>::max() / d)) {
        return fail(DecodeError::kInvalid, fmt::format("tensor '{}': bad shape", s.name));
      }
      n *= d;
    }
    total += n;
    if (total > limits.max_bytes) {
      return fail(DecodeError::kTooLarge,
                  fmt::format("tensors larger than {} bytes", limits.max_bytes));
    }
  }
  if (total != static_cast<int64_t>(payload.size())) {
    return fail(DecodeError::kInvalid,
                fmt::format("payload has {} bytes, its tensors need {}", payload.size(), total));
  }
  if (payload_checksum(payload) != checksum) return fail(DecodeError::kInvalid, "checksum mismatch");
  WeightGroups groups;
  std::size_t offset = 0;
  for (const auto& s : specs) {
    torch::Tensor t = torch::empty(s.shape, torch::TensorOptions().dtype(s.dtype));
    const auto n = static_cast<std::size_t>(s.bytes());
    if (n) std::memcpy(t.data_ptr(), payload.data() + offset, n);
    offset += n;
    Weights& w = groups[s.group];
    w.names.push_back(s.name);
    w.tensors.push_back(std::move(t));
  }
  *out = std::move(groups);
  return DecodeError::kNone;
}

void save_weight_groups(const fs::path& file, const std::string& meta_json,
                        const std::vector<std::pair<std::string, const Weights*>>& groups,
                        const AtomicWriteOptions& options) {
  std::vector<torch::Tensor> tensors;
  nlohmann::json header_groups = nlohmann::json::array();
  Hasher checksum;
  uint64_t payload = 0;
  for (const auto& [key, weights] : groups) {
    nlohmann::json entries = nlohmann::json::array();
    for (std::size_t i = 0; i < weights->size(); ++i) {
      const std::string& name = weights->names[i];
      torch::Tensor t = weights->tensors[i].contiguous();
      FEDSIGN_CHECK(t.device().is_cpu(), "tensor '{}' is not on the CPU", name);
      entries.push_back({{"name", name}, {"dtype", tensor_dtype_name(t.scalar_type(), name)},
                         {"shape", t.sizes().vec()}});
      checksum.update(t.data_ptr(), tensor_bytes(t));
      payload += tensor_bytes(t);
      tensors.push_back(std::move(t));
    }
    header_groups.push_back({{"key", key}, {"tensors", entries}});
  }
  const std::string header = nlohmann::json{{"format", kFormat},
                                            {"meta", nlohmann::json::parse(meta_json)},
                                            {"groups", header_groups},
                                            {"payload_bytes", payload},
                                            {"checksum", fmt::format("{:016x}", checksum.digest())}}
                                 .dump();
  const uint64_t header_size = header.size();
  auto write = [&](std::ostream& out) {
    out.write(kMagic, sizeof kMagic);
    out.write(reinterpret_cast<const char*>(&header_size), sizeof header_size);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    for (const auto& t : tensors) {
      out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(tensor_bytes(t)));
    }
  };
  write_stream_atomically(file, write, options);
}

std::pair<std::string, std::map<std::string, Weights>> load_weight_groups(const fs::path& file) {
  const std::string where = file.string();
  FEDSIGN_CHECK(fs::exists(file), "{}: no such file", where);
  try {
    const uint64_t size = fs::file_size(file);
    std::ifstream in(file, std::ios::binary);
    char magic[8] = {};
    in.read(magic, sizeof magic);
    FEDSIGN_CHECK(in.good(), "{}: truncated ({} bytes)", where, size);
    if (magic[0] == 'P' && magic[1] == 'K') return load_legacy(file);  // a zip: the pickled format
    FEDSIGN_CHECK(std::memcmp(magic, kMagic, sizeof kMagic) == 0,
                  "{}: not a fedsign federated state file", where);
    return load_current(file, in, size);
  } catch (const fedsign::Error&) {
    throw;
  } catch (const std::exception& e) {
    const std::string what = e.what();
    FEDSIGN_FAIL("{}: truncated or corrupt ({})", where, what.substr(0, what.find('\n')));
  }
}

}  // namespace fedsign::fl
