// Runs' metrics.csv files read back as series, and charts overlaying several runs (`fedsign fl
// compare`); federated runs (x = round) and centralized `fedsign train` runs (x = epoch, whose
// val_* columns stand in for central_*) alike. Plain CSV, no federated types.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace fedsign::report {

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

}  // namespace fedsign::report
