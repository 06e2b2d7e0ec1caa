// A federated run's per-round metrics: the metrics.csv rows, their JSON form (kept in the server
// checkpoint for --resume) and the accuracy/loss charts of one run. Reading runs back and
// overlaying several (`fedsign fl compare`) is report/run_charts.h.
#pragma once

#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "fedsign/fl/run/server.h"

namespace fedsign::fl {

// One metrics.csv row; NaN where a value was not measured (no evaluation that round).
struct RoundMetrics {
  int64_t round = 0;
  int64_t clients_sampled = 0, clients_trained = 0, failures = 0;
  double train_loss = NAN, train_accuracy = NAN;
  double lr = NAN;  // the local learning rate the clients trained with (their mean)
  double central_loss = NAN, central_accuracy = NAN;
  double federated_loss = NAN, federated_accuracy = NAN;
  double seconds = 0, train_seconds = 0, eval_seconds = 0, overhead_seconds = 0;
  // overhead = seconds - train - eval: the simulation's own cost (weights in and out,
  // aggregation, sampling, checkpoint, plots); overhead_pct = 100 * overhead / seconds.
  double overhead_pct = 0;
  // Differential privacy (the DP strategy's fit metrics; NaN when DP is off): epsilon spent
  // after this round (at the run's delta) and the clipping bound the round used.
  double dp_epsilon = NAN, dp_clip = NAN;
  // Extra columns (RoundRecord::columns), written after the fixed ones in name order; a column
  // only some rounds have (backdoor_asr after evaluated rounds) is empty in the others.
  std::map<std::string, double> columns;
};

RoundMetrics to_metrics(const RoundRecord& record);
// The fixed columns; write_metrics_csv() appends the extra columns any round of the run has.
std::vector<std::string> metrics_header();
std::string metrics_to_json(const std::vector<RoundMetrics>& history);
std::vector<RoundMetrics> metrics_from_json(const std::string& json);

// dir/metrics.csv (atomic).
void write_metrics_csv(const std::filesystem::path& dir, const std::vector<RoundMetrics>& history);
// dir/accuracy.png and dir/loss.png: train / central / federated vs round.
void write_run_plots(const std::filesystem::path& dir, const std::vector<RoundMetrics>& history,
                     const std::string& title);
// Both.
void write_run_outputs(const std::filesystem::path& dir, const std::vector<RoundMetrics>& history,
                       const std::string& title);

}  // namespace fedsign::fl
