#include "fedsign/report/plot.h"

#include <mgl2/mgl.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"

namespace fedsign::report {
namespace {

constexpr int kWidth = 900;
constexpr int kHeight = 560;
// MathGL line styles: colour letter + line width; cycled over series.
constexpr const char* kPens[] = {"b2", "r2", "g2", "m2", "c2", "h2", "q2", "k2", "l2", "n2"};

// MathGL treats some characters in labels as TeX; escape the common ones.
std::string mgl_text(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '_' || c == '^' || c == '%' || c == '{' || c == '}') out += '\\';
    out += c;
  }
  return out;
}

mglData to_mgl(const std::vector<double>& values) {
  mglData data(static_cast<long>(values.size()));
  for (std::size_t i = 0; i < values.size(); ++i) data.a[i] = values[i];
  return data;
}

void write_png(mglGraph& graph, const std::filesystem::path& file) {
  write_atomically(file, [&](const std::filesystem::path& tmp) {
    // MathGL picks the format from the extension, so the temp name must end in .png.
    std::filesystem::path png = tmp;
    png += ".png";
    graph.WritePNG(png.c_str(), "", false);
    FEDSIGN_CHECK(std::filesystem::exists(png), "{}: MathGL could not write the PNG", file.string());
    std::filesystem::rename(png, tmp);
  });
}

}  // namespace

void save_line_plot(const std::filesystem::path& file, const LinePlot& plot) {
  double x_min = std::numeric_limits<double>::max(), x_max = std::numeric_limits<double>::lowest();
  double y_min = x_min, y_max = x_max;
  for (const Series& s : plot.series) {
    FEDSIGN_CHECK(s.x.size() == s.y.size(), "plot series '{}': {} x values, {} y values", s.name,
                  s.x.size(), s.y.size());
    for (double v : s.x) x_min = std::min(x_min, v), x_max = std::max(x_max, v);
    for (double v : s.y) {
      if (std::isfinite(v)) y_min = std::min(y_min, v), y_max = std::max(y_max, v);
    }
  }
  if (x_min > x_max) x_min = 0, x_max = 1;
  if (y_min > y_max) y_min = 0, y_max = 1;
  if (x_max - x_min < 1e-12) x_max = x_min + 1;
  const double pad = std::max(1e-9, (y_max - y_min) * 0.05);

  mglGraph graph(0, kWidth, kHeight);
  graph.SetFontSize(3.0);
  graph.Title(mgl_text(plot.title).c_str(), "", -1.6);
  graph.SetRanges(x_min, x_max, y_min - pad, y_max + pad);
  graph.SetOrigin(x_min, y_min - pad);
  graph.Axis();
  graph.Grid("xy", "h:");
  graph.Box();
  graph.Label('x', mgl_text(plot.x_label).c_str(), 0);
  graph.Label('y', mgl_text(plot.y_label).c_str(), 0);
  for (std::size_t i = 0; i < plot.series.size(); ++i) {
    const Series& s = plot.series[i];
    if (s.x.empty()) continue;
    std::string pen = kPens[i % std::size(kPens)];
    if (s.x.size() == 1) pen += "o";  // a single point would be invisible as a line
    graph.Plot(to_mgl(s.x), to_mgl(s.y), pen.c_str());
    graph.AddLegend(mgl_text(s.name).c_str(), pen.c_str());
  }
  // Legend in the corner the curves leave free: bottom right when they end high (accuracy),
  // top right when they end low (loss). MathGL corners: 1 bottom right, 3 top right.
  double end_sum = 0;
  int ends = 0;
  for (const Series& s : plot.series) {
    if (!s.y.empty() && std::isfinite(s.y.back())) end_sum += s.y.back(), ++ends;
  }
  const bool end_high = ends > 0 && end_sum / ends > (y_min + y_max) / 2;
  if (!plot.series.empty()) graph.Legend(end_high ? 1 : 3, "#", "size 2");
  write_png(graph, file);
}

void save_heatmap(const std::filesystem::path& file, const Heatmap& heatmap) {
  const long rows = static_cast<long>(heatmap.values.size());
  FEDSIGN_CHECK(rows > 0, "{}: heatmap has no rows", file.string());
  const long cols = static_cast<long>(heatmap.values.front().size());
  mglData data(cols, rows);  // MathGL: x = columns, y = rows
  double v_max = 0;
  for (long r = 0; r < rows; ++r) {
    FEDSIGN_CHECK(static_cast<long>(heatmap.values[r].size()) == cols,
                  "{}: heatmap row {} has {} values, expected {}", file.string(), r,
                  heatmap.values[r].size(), cols);
    for (long c = 0; c < cols; ++c) {
      data.a[c + cols * r] = heatmap.values[r][c];
      v_max = std::max(v_max, heatmap.values[r][c]);
    }
  }
  mglGraph graph(0, kWidth, kHeight);
  graph.SetFontSize(3.0);
  graph.Title(mgl_text(heatmap.title).c_str(), "", -1.6);
  graph.SetRanges(0, cols, 0, rows);
  graph.SetRange('c', 0, v_max > 0 ? v_max : 1);
  graph.Colorbar("wyrk");
  graph.Axis();
  graph.Box();
  graph.Label('x', mgl_text(heatmap.x_label).c_str(), 0);
  graph.Label('y', mgl_text(heatmap.y_label).c_str(), 0);
  // Cell centres: this MathGL version rejects edge arrays of size n + 1 in Dens().
  mglData xs(cols), ys(rows);
  for (long c = 0; c < cols; ++c) xs.a[c] = c + 0.5;
  for (long r = 0; r < rows; ++r) ys.a[r] = r + 0.5;
  graph.Dens(xs, ys, data, "wyrk");
  write_png(graph, file);
}

void save_bar_chart(const std::filesystem::path& file, const BarChart& chart) {
  const long groups = static_cast<long>(chart.values.size());
  FEDSIGN_CHECK(groups > 0, "{}: bar chart has no values", file.string());
  const long n = static_cast<long>(chart.labels.size());
  mglData data(n, groups);
  double v_max = 0;
  for (long g = 0; g < groups; ++g) {
    FEDSIGN_CHECK(static_cast<long>(chart.values[g].size()) == n,
                  "{}: bar group {} has {} values, expected {}", file.string(), g,
                  chart.values[g].size(), n);
    for (long i = 0; i < n; ++i) {
      data.a[i + n * g] = chart.values[g][i];
      v_max = std::max(v_max, chart.values[g][i]);
    }
  }
  mglGraph graph(0, kWidth, kHeight);
  graph.SetFontSize(3.0);
  graph.Title(mgl_text(chart.title).c_str(), "", -1.6);
  graph.SetRanges(-0.5, n - 0.5, 0, v_max > 0 ? v_max * 1.1 : 1);
  graph.SetOrigin(-0.5, 0);
  // Category names as x tick labels.
  mglData ticks(n);
  std::string tick_text;
  for (long i = 0; i < n; ++i) {
    ticks.a[i] = i;
    tick_text += mgl_text(chart.labels[i]) + "\n";
  }
  graph.SetTicksVal('x', ticks, tick_text.c_str());
  graph.Axis();
  graph.Grid("y", "h:");
  graph.Box();
  graph.Label('y', mgl_text(chart.y_label).c_str(), 0);
  std::string pens;
  for (long g = 0; g < groups; ++g) pens += "brgmchqkln"[g % 10];
  graph.Bars(data, pens.c_str());
  for (long g = 0; g < groups && g < static_cast<long>(chart.group_names.size()); ++g) {
    graph.AddLegend(mgl_text(chart.group_names[g]).c_str(), std::string(1, pens[g]).c_str());
  }
  if (!chart.group_names.empty()) graph.Legend(3, "#", "size 2");
  write_png(graph, file);
}

void save_count_heatmap(const std::filesystem::path& file,
                        const std::vector<std::vector<int64_t>>& counts, const std::string& title,
                        const std::string& x_label, const std::string& y_label,
                        std::size_t max_rows) {
  Heatmap heatmap;
  const std::size_t rows = std::min(max_rows, counts.size());
  heatmap.title = rows < counts.size()
                      ? fmt::format("{} (first {} of {} rows)", title, rows, counts.size())
                      : title;
  heatmap.x_label = x_label;
  heatmap.y_label = y_label;
  for (std::size_t j = 0; j < rows; ++j) heatmap.values.emplace_back(counts[j].begin(), counts[j].end());
  if (heatmap.values.empty()) return;
  save_heatmap(file, heatmap);
}

}  // namespace fedsign::report
