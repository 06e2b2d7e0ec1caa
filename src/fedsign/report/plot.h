// PNG charts drawn in-process with MathGL (no X server, no Python): training curves, several
// runs on one chart, heatmaps (confusion matrices, client x class partitions) and bar charts.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace fedsign::report {

struct Series {
  std::string name;
  std::vector<double> x;
  std::vector<double> y;
};

struct LinePlot {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<Series> series;
};

// Writes a line chart (one line per series, legend) to `file` atomically.
void save_line_plot(const std::filesystem::path& file, const LinePlot& plot);

struct Heatmap {
  std::string title;
  std::string x_label;  // columns
  std::string y_label;  // rows
  std::vector<std::vector<double>> values;  // rows x columns
};

void save_heatmap(const std::filesystem::path& file, const Heatmap& heatmap);

// Counts (rows x columns, e.g. clients x classes) as a heatmap; only the first `max_rows` rows
// are drawn (the title says so). Nothing is written for no rows.
void save_count_heatmap(const std::filesystem::path& file,
                        const std::vector<std::vector<int64_t>>& counts, const std::string& title,
                        const std::string& x_label, const std::string& y_label,
                        std::size_t max_rows = 500);

struct BarChart {
  std::string title;
  std::string y_label;
  std::vector<std::string> labels;
  std::vector<std::string> group_names;     // one bar per group and label (e.g. all/rare/frequent)
  std::vector<std::vector<double>> values;  // groups x labels
};

void save_bar_chart(const std::filesystem::path& file, const BarChart& chart);

}  // namespace fedsign::report
