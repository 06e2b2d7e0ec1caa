#include "fedsign/fl/client/client_state.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/fl/weight_groups.h"

namespace fedsign::fl {

namespace fs = std::filesystem;

namespace {

std::vector<std::pair<std::string, const Weights*>> groups_of(const ClientState& state) {
  std::vector<std::pair<std::string, const Weights*>> groups;
  if (state.control) groups.emplace_back("control", &*state.control);
  if (state.local_bn) groups.emplace_back("local_bn", &*state.local_bn);
  if (state.residual) groups.emplace_back("residual", &*state.residual);
  return groups;
}

ClientState state_from_groups(std::map<std::string, Weights> groups) {
  ClientState state;
  if (auto g = groups.find("control"); g != groups.end()) state.control = std::move(g->second);
  if (auto g = groups.find("local_bn"); g != groups.end()) state.local_bn = std::move(g->second);
  if (auto g = groups.find("residual"); g != groups.end()) state.residual = std::move(g->second);
  return state;
}

}  // namespace

void save_client_state_file(const fs::path& file, const ClientState& state,
                            const StateOwner& owner) {
  const nlohmann::json meta = {{"run_id", owner.run_id}, {"client_id", owner.client_id}};
  save_weight_groups(file, meta.dump(), groups_of(state), {.durable = true});
}

std::optional<ClientState> load_client_state_file(const fs::path& file, const StateOwner& owner) {
  if (!fs::exists(file)) return std::nullopt;
  auto [meta_json, groups] = load_weight_groups(file);
  const auto meta = nlohmann::json::parse(meta_json);
  if (!meta.is_object() || meta.value("run_id", "") != owner.run_id ||
      meta.value("client_id", ClientId{-1}) != owner.client_id) {
    return std::nullopt;
  }
  return state_from_groups(std::move(groups));
}

int64_t ClientState::bytes() const {
  return (control ? control->bytes() : 0) + (local_bn ? local_bn->bytes() : 0) +
         (residual ? residual->bytes() : 0);
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
  return state_from_groups(load_weight_groups(file(id, it->second)).second);
}

void DiskClientStateStore::save(ClientId id, const ClientState& state) {
  const auto groups = groups_of(state);
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
  start_writeback(target);  // the disk works while the next client trains; sync() then waits less
  if (std::find(unsynced_.begin(), unsynced_.end(), target) == unsynced_.end()) {
    unsynced_.push_back(target);  // once, though a client may save twice in a round
  }
  if (old && *old != target) superseded_.push_back({round_, *old});
  index_[id] = round_;
  bytes_ += static_cast<int64_t>(fs::file_size(target)) - old_bytes;
}

void DiskClientStateStore::sync() {
  if (unsynced_.empty()) return;
  for (const auto& f : unsynced_) fsync_path(f);
  fsync_path(dir_);  // the new names
  unsynced_.clear();
}

void DiskClientStateStore::commit() {
  // A version superseded in this round is still what the previous checkpoint (FILE.prev, the
  // fallback when the latest is torn) refers to: it goes at the next commit.
  std::erase_if(superseded_, [this](const auto& entry) {
    if (entry.first >= round_) return false;
    std::error_code ec;
    fs::remove(entry.second, ec);
    return true;
  });
}

void DiskClientStateStore::restore(const std::map<ClientId, int64_t>& index,
                                   const std::map<ClientId, int64_t>& previous) {
  index_ = index;
  superseded_.clear();
  unsynced_.clear();
  bytes_ = 0;
  const std::regex name(R"((\d+)\.r(\d+)\.pt)");
  std::vector<fs::path> stray;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    std::smatch m;
    const std::string filename = entry.path().filename().string();
    if (!std::regex_match(filename, m, name)) continue;
    const ClientId id = std::stoll(m[1]);
    const int64_t version = std::stoll(m[2]);
    auto refers = [&](const std::map<ClientId, int64_t>& in) {
      auto it = in.find(id);
      return it != in.end() && it->second == version;
    };
    if (refers(index_)) {
      bytes_ += static_cast<int64_t>(entry.file_size());
    } else if (refers(previous)) {
      superseded_.push_back({0, entry.path()});  // before any round of this run: the next commit
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

}  // namespace fedsign::fl
