// What the network adds to each round, one network.csv row per round: connected clients, the
// slowest client's training, bytes each way, rejected updates, the server's peak memory. Kept in
// the server checkpoint (JSON) so a resumed run's network.csv continues.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

namespace fedsign::net {

struct NetRow {
  int64_t round = 0;
  int64_t clients_connected = 0;
  double seconds = 0, max_train_seconds = 0, eval_seconds = 0, overhead_seconds = 0;
  int64_t bytes_sent = 0, bytes_received = 0, rejected = 0;
  double peak_rss_mb = 0;
};

nlohmann::json to_json(const NetRow& row);
NetRow net_row_from_json(const nlohmann::json& json);
void write_network_csv(const std::filesystem::path& file, const std::vector<NetRow>& rows);

// Peak resident memory of this process (VmHWM), in MiB.
double peak_rss_mb();

}  // namespace fedsign::net
