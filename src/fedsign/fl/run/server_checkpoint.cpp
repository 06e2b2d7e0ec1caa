#include "fedsign/fl/run/server_checkpoint.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "fedsign/core/check.h"
#include "fedsign/fl/weight_groups.h"

namespace fedsign::fl {

namespace fs = std::filesystem;

namespace {
constexpr const char* kFormat = "fedsign-fl-checkpoint-1";

ServerCheckpoint load_one(const fs::path& file);
}  // namespace

fs::path previous_checkpoint(const fs::path& file) {
  fs::path prev = file;
  prev += ".prev";
  return prev;
}

bool server_checkpoint_exists(const fs::path& file) {
  return fs::exists(file) || fs::exists(previous_checkpoint(file));
}

void save_server_checkpoint(const std::filesystem::path& file, const ServerCheckpoint& cp) {
  std::vector<std::pair<std::string, const Weights*>> groups = {{"global", &cp.global}};
  for (const auto& [key, w] : cp.strategy_state) groups.emplace_back("strategy/" + key, &w);
  nlohmann::json clients = nlohmann::json::object();
  for (const auto& [id, round] : cp.client_states) clients[std::to_string(id)] = round;
  const nlohmann::json meta = {{"format", kFormat},
                               {"round", cp.round},
                               {"strategy", cp.strategy},
                               {"client_states", clients},
                               {"history", nlohmann::json::parse(cp.history_json)},
                               {"settings", nlohmann::json::parse(cp.settings_json)},
                               {"extra", nlohmann::json::parse(cp.extra_json)}};
  // The new generation is on disk (fsync'ed) before the old one becomes FILE.prev: a crash at any
  // point leaves FILE complete (old or new) and, from the second round on, FILE.prev too.
  save_weight_groups(file, meta.dump(), groups,
                     {.durable = true, .keep_previous = previous_checkpoint(file)});
}

ServerCheckpoint load_server_checkpoint(const fs::path& file) {
  const fs::path prev = previous_checkpoint(file);
  FEDSIGN_CHECK(server_checkpoint_exists(file), "{}: no checkpoint to resume from", file.string());
  std::string why;
  if (fs::exists(file)) {
    try {
      return load_one(file);
    } catch (const fedsign::Error& e) {
      why = e.what();
      FEDSIGN_CHECK(fs::exists(prev), "{} (and no previous generation {})", why, prev.string());
    }
  } else {
    why = fmt::format("{}: missing", file.string());
  }
  ServerCheckpoint cp;
  try {
    cp = load_one(prev);
  } catch (const fedsign::Error& e) {
    FEDSIGN_FAIL("no usable checkpoint: {}; previous generation: {}", why, e.what());
  }
  spdlog::warn("latest checkpoint unusable ({}); falling back to the previous generation {} "
               "(round {})", why, prev.string(), cp.round);
  return cp;
}

std::map<ClientId, int64_t> previous_client_states(const fs::path& file) {
  const fs::path prev = previous_checkpoint(file);
  if (!fs::exists(prev)) return {};
  try {
    return load_one(prev).client_states;
  } catch (const fedsign::Error& e) {
    spdlog::debug("previous checkpoint unusable as a fallback: {}", e.what());
    return {};
  }
}

namespace {
ServerCheckpoint load_one(const fs::path& file) {
  auto [meta_json, groups] = load_weight_groups(file);
  const auto meta = nlohmann::json::parse(meta_json);
  FEDSIGN_CHECK(meta.is_object() && meta.value("format", "") == kFormat,
                "{}: not a fedsign federated checkpoint", file.string());
  ServerCheckpoint cp;
  try {
    cp.round = meta.at("round");
    cp.strategy = meta.at("strategy");
    for (const auto& [id, round] : meta.at("client_states").items()) {
      cp.client_states[std::stoll(id)] = round.get<int64_t>();
    }
    cp.history_json = meta.at("history").dump();
    cp.settings_json = meta.at("settings").dump();
    cp.extra_json = meta.value("extra", nlohmann::json::object()).dump();  // absent before
  } catch (const nlohmann::json::exception& e) {
    FEDSIGN_FAIL("{}: corrupt checkpoint ({})", file.string(), e.what());
  }
  for (auto& [key, w] : groups) {
    if (key == "global") cp.global = std::move(w);
    else if (key.starts_with("strategy/")) cp.strategy_state[key.substr(9)] = std::move(w);
  }
  FEDSIGN_CHECK(!cp.global.empty(), "{}: no global weights", file.string());
  return cp;
}
}  // namespace

}  // namespace fedsign::fl
