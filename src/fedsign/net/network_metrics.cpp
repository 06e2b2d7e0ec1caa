#include "fedsign/net/network_metrics.h"

#include <fmt/format.h>

#include <fstream>
#include <string>

#include "fedsign/core/atomic_file.h"

namespace fedsign::net {

double peak_rss_mb() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

nlohmann::json to_json(const NetRow& r) {
  return {{"round", r.round}, {"clients_connected", r.clients_connected}, {"seconds", r.seconds},
          {"max_train_seconds", r.max_train_seconds}, {"eval_seconds", r.eval_seconds},
          {"overhead_seconds", r.overhead_seconds}, {"bytes_sent", r.bytes_sent},
          {"bytes_received", r.bytes_received}, {"rejected", r.rejected},
          {"peak_rss_mb", r.peak_rss_mb}};
}

NetRow net_row_from_json(const nlohmann::json& j) {
  NetRow r;
  r.round = j.value("round", int64_t{0});
  r.clients_connected = j.value("clients_connected", int64_t{0});
  r.seconds = j.value("seconds", 0.0);
  r.max_train_seconds = j.value("max_train_seconds", 0.0);
  r.eval_seconds = j.value("eval_seconds", 0.0);
  r.overhead_seconds = j.value("overhead_seconds", 0.0);
  r.bytes_sent = j.value("bytes_sent", int64_t{0});
  r.bytes_received = j.value("bytes_received", int64_t{0});
  r.rejected = j.value("rejected", int64_t{0});
  r.peak_rss_mb = j.value("peak_rss_mb", 0.0);
  return r;
}

void write_network_csv(const std::filesystem::path& file, const std::vector<NetRow>& rows) {
  std::string text =
      "round,clients_connected,seconds,max_train_seconds,eval_seconds,overhead_seconds,"
      "bytes_sent,bytes_received,rejected,peak_rss_mb\n";
  for (const auto& r : rows) {
    text += fmt::format("{},{},{:.4f},{:.4f},{:.4f},{:.4f},{},{},{},{:.1f}\n", r.round,
                        r.clients_connected, r.seconds, r.max_train_seconds, r.eval_seconds,
                        r.overhead_seconds, r.bytes_sent, r.bytes_received, r.rejected,
                        r.peak_rss_mb);
  }
  write_text_atomically(file, text);
}

}  // namespace fedsign::net
