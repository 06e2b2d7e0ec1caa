#include "fedsign/fl/client_state.h"

#include <torch/serialize.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"

namespace fedsign::fl {

namespace fs = std::filesystem;

int64_t ClientState::bytes() const {
  return (control ? control->bytes() : 0) + (local_bn ? local_bn->bytes() : 0);
}

std::optional<ClientState> MemoryClientStateStore::load(ClientId id) const {
  auto it = states_.find(id);
  if (it == states_.end()) return std::nullopt;
  return it->second;
}

int64_t MemoryClientStateStore::bytes() const {
  int64_t n = 0;
  for (const auto& [id, s] : states_) n += s.bytes();
  return n;
}

DiskClientStateStore::DiskClientStateStore(fs::path dir) : dir_(std::move(dir)) {
  fs::create_directories(dir_);
}

fs::path DiskClientStateStore::file(ClientId id, int64_t round) const {
  return dir_ / fmt::format("{}.r{}.pt", id, round);
}

std::optional<ClientState> DiskClientStateStore::load(ClientId id) const {
  auto it = index_.find(id);
  if (it == index_.end()) return std::nullopt;
  auto [meta, groups] = load_weight_groups(file(id, it->second));
  ClientState state;
  if (auto g = groups.find("control"); g != groups.end()) state.control = std::move(g->second);
  if (auto g = groups.find("local_bn"); g != groups.end()) state.local_bn = std::move(g->second);
  return state;
}

void DiskClientStateStore::save(ClientId id, const ClientState& state) {
  std::vector<std::pair<std::string, const Weights*>> groups;
  if (state.control) groups.emplace_back("control", &*state.control);
  if (state.local_bn) groups.emplace_back("local_bn", &*state.local_bn);
  const fs::path target = file(id, round_);
  int64_t old_bytes = 0;
  std::optional<fs::path> old;
  if (auto it = index_.find(id); it != index_.end()) {
    old = file(id, it->second);
    std::error_code ec;
    old_bytes = static_cast<int64_t>(fs::file_size(*old, ec));
    if (ec) old_bytes = 0;
  }
  save_weight_groups(target, "{}", groups);
  if (old && *old != target) superseded_.push_back(*old);
  index_[id] = round_;
  bytes_ += static_cast<int64_t>(fs::file_size(target)) - old_bytes;
}

void DiskClientStateStore::commit() {
  for (const auto& f : superseded_) {
    std::error_code ec;
    fs::remove(f, ec);
  }
  superseded_.clear();
}

void DiskClientStateStore::restore(const std::map<ClientId, int64_t>& index) {
  index_ = index;
  superseded_.clear();
  bytes_ = 0;
  const std::regex name(R"((\d+)\.r(\d+)\.pt)");
  std::vector<fs::path> stray;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    std::smatch m;
    const std::string filename = entry.path().filename().string();
    if (!std::regex_match(filename, m, name)) continue;
    auto it = index_.find(std::stoll(m[1]));
    if (it != index_.end() && it->second == std::stoll(m[2])) {
      bytes_ += static_cast<int64_t>(entry.file_size());
    } else {
      stray.push_back(entry.path());
    }
  }
  for (const auto& f : stray) fs::remove(f);
  for (const auto& [id, round] : index_) {
    FEDSIGN_CHECK(fs::exists(file(id, round)), "{}: client state missing (the checkpoint refers to it)",
                  file(id, round).string());
  }
}

void save_weight_groups(const fs::path& file, const std::string& meta_json,
                        const std::vector<std::pair<std::string, const Weights*>>& groups) {
  c10::Dict<std::string, torch::Tensor> dict;
  nlohmann::json meta_groups = nlohmann::json::array();
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const Weights& w = *groups[g].second;
    meta_groups.push_back({{"key", groups[g].first}, {"names", w.names}});
    for (std::size_t i = 0; i < w.size(); ++i) {
      dict.insert(fmt::format("{}/{}", g, i), w.tensors[i].contiguous());
    }
  }
  const nlohmann::json meta = {{"format", "fedsign-weight-groups-1"},
                               {"meta", nlohmann::json::parse(meta_json)},
                               {"groups", meta_groups}};
  const std::string text = meta.dump();
  dict.insert("meta", torch::from_blob(const_cast<char*>(text.data()),
                                       {static_cast<int64_t>(text.size())}, torch::kUInt8)
                          .clone());
  const std::vector<char> bytes = torch::pickle_save(dict);
  write_stream_atomically(file, [&](std::ostream& out) {
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  });
}

std::pair<std::string, std::map<std::string, Weights>> load_weight_groups(const fs::path& file) {
  const std::string where = file.string();
  FEDSIGN_CHECK(fs::exists(file), "{}: no such file", where);
  try {
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
    FEDSIGN_CHECK(meta.value("format", "") == "fedsign-weight-groups-1",
                  "{}: not a fedsign federated state file", where);
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
  } catch (const fedsign::Error&) {
    throw;
  } catch (const std::exception& e) {
    const std::string what = e.what();
    FEDSIGN_FAIL("{}: truncated or corrupt ({})", where, what.substr(0, what.find('\n')));
  }
}

}  // namespace fedsign::fl
