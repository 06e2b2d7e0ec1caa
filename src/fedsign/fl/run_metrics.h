// A federated run's per-round metrics: the metrics.csv rows, their JSON form (kept in the server
// checkpoint for --resume), accuracy/loss charts of one run, and charts overlaying several runs
// (`fedsign fl compare`), which also accept centralized `fedsign train` runs.
#pragma once

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "fedsign/fl/server.h"

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
};

RoundMetrics to_metrics(const RoundRecord& record);
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

// A column of a run's metrics.csv as (x, y) series; x is `round` (federated runs) or `epoch`
// (centralized runs, whose val_* columns stand in for central_*). Empty cells are skipped.
// Throws fedsign::Error naming the file if it or the column is missing.
struct RunSeries {
  std::string x_label;
  std::vector<double> x, y;
};
RunSeries read_run_series(const std::filesystem::path& run_dir_or_csv, const std::string& column);

// One chart with one line per run: `column` (e.g. central_accuracy) vs round. Accuracy columns
// are drawn in percent. `names` label the lines (default: the run directories' names). Points
// before round (or epoch) `from` are left out, to zoom into the end of long runs.
void save_comparison_plot(const std::filesystem::path& file,
                          const std::vector<std::filesystem::path>& runs,
                          const std::string& column, std::vector<std::string> names = {},
                          double from = 0);

}  // namespace fedsign::fl
