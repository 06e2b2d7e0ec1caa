#include "fedsign/fl/run/server_checkpoint.h"

#include <nlohmann/json.hpp>

#include "fedsign/core/check.h"
#include "fedsign/fl/weight_groups.h"

namespace fedsign::fl {

namespace {
constexpr const char* kFormat = "fedsign-fl-checkpoint-1";
}  // namespace

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
  save_weight_groups(file, meta.dump(), groups);
}

ServerCheckpoint load_server_checkpoint(const std::filesystem::path& file) {
  FEDSIGN_CHECK(std::filesystem::exists(file), "{}: no checkpoint to resume from", file.string());
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

}  // namespace fedsign::fl
