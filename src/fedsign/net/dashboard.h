// The live dashboard of a federated run: one HTML page, embedded in the binary, that the status
// endpoint (status_http.h) serves at "/" and that polls GET /status once a second. It draws the
// accuracy and loss curves, the round, the clients, the privacy budget and the bytes on the wire
// from whatever the status document holds, for `fl simulate` and `fl server` alike.
//
// The page itself holds no data, so it is served without the token; the data (/status) needs it
// when one is set. The page reads the token from the address's fragment (`#token=...`), which a
// browser never sends to the server, and passes it as "Authorization: Bearer".
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

namespace fedsign::fl {
struct RoundMetrics;
}

namespace fedsign::net {

// The page (HTML with its script and style inline: no external assets, no chart library).
const std::string& dashboard_page();

// What a run shows on the dashboard, updated by the run loop and read by the status endpoint's
// thread. Thread-safe.
class RunBoard {
 public:
  void set_phase(int64_t round, const std::string& phase);
  // Appends the round's metrics (plus `extra` fields, e.g. the network's bytes) to the history.
  void add_round(const fl::RoundMetrics& metrics, const nlohmann::json& extra = nlohmann::json::object());
  // The status document: {"round", "phase", "history": [...]} merged into `base`.
  nlohmann::json status(nlohmann::json base = nlohmann::json::object()) const;
  nlohmann::json last_round() const;

 private:
  mutable std::mutex mutex_;
  int64_t round_ = 0;
  std::string phase_ = "starting";
  nlohmann::json history_ = nlohmann::json::array();
};

}  // namespace fedsign::net
