// Reading run metrics back and overlaying runs: plain CSV and charts, no federated types.
#include "fedsign/report/run_charts.h"

#include <algorithm>
#include <fstream>

#include "fedsign/core/check.h"
#include "fedsign/report/plot.h"

namespace fedsign::report {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') quoted = !quoted;
    else if (c == ',' && !quoted) out.push_back(std::move(field)), field.clear();
    else if (c != '\r') field += c;
  }
  out.push_back(field);
  return out;
}

}  // namespace

RunSeries read_run_series(const fs::path& run, const std::string& column) {
  const fs::path file = fs::is_directory(run) ? run / "metrics.csv" : run;
  std::ifstream in(file);
  FEDSIGN_CHECK(in.good(), "{}: no metrics.csv", file.string());
  std::string line;
  FEDSIGN_CHECK(static_cast<bool>(std::getline(in, line)), "{}: empty file", file.string());
  const std::vector<std::string> header = split_csv_line(line);
  auto find = [&](const std::string& name) -> int {
    for (std::size_t i = 0; i < header.size(); ++i) if (header[i] == name) return static_cast<int>(i);
    return -1;
  };
  RunSeries series;
  int x_col = find("round");
  int y_col = find(column);
  series.x_label = "round";
  if (x_col < 0) {  // a centralized run: epochs, and val_* for central_*
    x_col = find("epoch");
    series.x_label = "epoch";
    if (y_col < 0 && column.starts_with("central_")) y_col = find("val_" + column.substr(8));
  }
  FEDSIGN_CHECK(x_col >= 0, "{}: neither a 'round' nor an 'epoch' column", file.string());
  FEDSIGN_CHECK(y_col >= 0, "{}: no column '{}'", file.string(), column);
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto fields = split_csv_line(line);
    if (static_cast<int>(fields.size()) <= std::max(x_col, y_col)) continue;
    if (fields[static_cast<std::size_t>(y_col)].empty()) continue;
    series.x.push_back(std::stod(fields[static_cast<std::size_t>(x_col)]));
    series.y.push_back(std::stod(fields[static_cast<std::size_t>(y_col)]));
  }
  return series;
}

void save_comparison_plot(const fs::path& file, const std::vector<fs::path>& runs,
                          const std::string& column, std::vector<std::string> names,
                          double from) {
  FEDSIGN_CHECK(!runs.empty(), "compare: no runs given");
  FEDSIGN_CHECK(names.empty() || names.size() == runs.size(), "compare: {} names for {} runs",
                names.size(), runs.size());
  const bool percent = column.ends_with("accuracy");
  report::LinePlot plot;
  plot.title = column;
  plot.y_label = percent ? column + " (%)" : column;
  std::string x_label;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    RunSeries all = read_run_series(runs[i], column);
    RunSeries s{all.x_label, {}, {}};
    for (std::size_t k = 0; k < all.x.size(); ++k) {
      if (all.x[k] < from) continue;
      s.x.push_back(all.x[k]);
      s.y.push_back(percent ? 100 * all.y[k] : all.y[k]);
    }
    std::string name = names.empty() ? fs::path(runs[i]).lexically_normal().filename().string()
                                     : names[i];
    if (name.empty()) name = fs::path(runs[i]).lexically_normal().parent_path().filename().string();
    plot.series.push_back({name, s.x, s.y});
    if (x_label.empty()) x_label = s.x_label;
    else if (x_label != s.x_label) x_label = "round / epoch";
  }
  plot.x_label = x_label;
  report::save_line_plot(file, plot);
}

}  // namespace fedsign::report
