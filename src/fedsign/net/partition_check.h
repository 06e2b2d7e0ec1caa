// Keeps the clients of one federation on one partition: every client registers with a canonical
// description of the partition it took its data from (count, kind, seeds, split fractions) and
// its index in it. The first description fixes the federation's; a client with another, or with
// an index a client of another name already holds, is refused. Survives restarts through
// to_json()/restore(). Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "fedsign/net/status.h"

namespace fedsign::net {

class PartitionCheck {
 public:
  // An empty `key` is not checked (a client that does not say which share it holds).
  Status admit(const std::string& name, const std::string& key, int64_t index);
  std::string to_json() const;
  void restore(const std::string& json);

 private:
  mutable std::mutex mutex_;
  std::string key_;
  std::map<int64_t, std::string> holders_;  // index -> client name
};

}  // namespace fedsign::net
