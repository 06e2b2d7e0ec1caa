#include "fedsign/net/partition_check.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace fedsign::net {

Status PartitionCheck::admit(const std::string& name, const std::string& key, int64_t index) {
  if (key.empty()) return Status::Ok();
  std::lock_guard lock(mutex_);
  if (key_.empty()) key_ = key;
  if (key != key_) {
    return {Code::kFailedPrecondition,
            fmt::format("client holds a share of another partition ({}) than the federation's ({})",
                        key, key_)};
  }
  auto [it, inserted] = holders_.emplace(index, name);
  if (!inserted && it->second != name) {
    return {Code::kFailedPrecondition, fmt::format("partition index {} is already held by another "
                                              "client", index)};
  }
  return Status::Ok();
}

std::string PartitionCheck::to_json() const {
  std::lock_guard lock(mutex_);
  nlohmann::json holders = nlohmann::json::object();
  for (const auto& [index, name] : holders_) holders[std::to_string(index)] = name;
  return nlohmann::json{{"key", key_}, {"holders", holders}}.dump();
}

void PartitionCheck::restore(const std::string& json) {
  const auto j = nlohmann::json::parse(json);
  std::lock_guard lock(mutex_);
  key_ = j.value("key", "");
  holders_.clear();
  const nlohmann::json holders = j.value("holders", nlohmann::json::object());
  for (const auto& [index, name] : holders.items()) {
    holders_[std::stoll(index)] = name.get<std::string>();
  }
}

}  // namespace fedsign::net
