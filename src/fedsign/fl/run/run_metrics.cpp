#include "fedsign/fl/run/run_metrics.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "fedsign/core/check.h"
#include "fedsign/report/csv.h"
#include "fedsign/report/plot.h"

namespace fedsign::fl {

namespace fs = std::filesystem;

namespace {

double metric(const Metrics& m, const char* key) {
  auto it = m.find(key);
  return it == m.end() ? NAN : it->second;
}

std::string cell(double v, const char* format = "{:.5f}") {
  return std::isfinite(v) ? fmt::format(fmt::runtime(format), v) : "";
}

// Extra columns hold counts (bytes_up, attackers) and rates: whole numbers in full, else 6
// significant digits.
std::string column_cell(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{:.0f}", v);
  return cell(v, "{:.6g}");
}

nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }
double number(const nlohmann::json& j) { return j.is_null() ? NAN : j.get<double>(); }

}  // namespace

RoundMetrics to_metrics(const RoundRecord& r) {
  RoundMetrics m;
  m.round = r.round;
  m.clients_sampled = r.clients_sampled;
  m.failures = static_cast<int64_t>(r.failures.size());
  m.clients_trained = m.clients_sampled - m.failures;
  m.train_loss = metric(r.fit_metrics, "train_loss");
  m.train_accuracy = metric(r.fit_metrics, "train_accuracy");
  m.lr = metric(r.fit_metrics, "lr");
  if (r.central) {
    m.central_loss = r.central->loss;
    m.central_accuracy = metric(r.central->metrics, "accuracy");
  }
  if (r.federated) {
    m.federated_loss = r.federated->loss;
    m.federated_accuracy = metric(r.federated->metrics, "accuracy");
  }
  m.seconds = r.seconds;
  m.train_seconds = r.train_seconds;
  m.eval_seconds = r.eval_seconds;
  m.overhead_seconds = r.overhead_seconds();  // negative = an accounting error, shown as is
  m.overhead_pct = r.seconds > 0 ? 100.0 * m.overhead_seconds / r.seconds : 0.0;
  m.dp_epsilon = metric(r.fit_metrics, "dp_epsilon");
  m.dp_clip = metric(r.fit_metrics, "dp_clip");
  m.columns = r.columns;
  return m;
}

std::vector<std::string> metrics_header() {
  return {"round",          "clients_sampled",  "clients_trained",    "failures",
          "train_loss",     "train_accuracy",   "central_loss",       "central_accuracy",
          "federated_loss", "federated_accuracy", "seconds",          "train_seconds",
          "eval_seconds",   "overhead_seconds", "overhead_pct",     "lr",
          "dp_epsilon",     "dp_clip"};
}

std::string metrics_to_json(const std::vector<RoundMetrics>& history) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& m : history) {
    rows.push_back({{"round", m.round}, {"clients_sampled", m.clients_sampled},
                    {"clients_trained", m.clients_trained}, {"failures", m.failures},
                    {"train_loss", number(m.train_loss)}, {"train_accuracy", number(m.train_accuracy)},
                    {"central_loss", number(m.central_loss)},
                    {"central_accuracy", number(m.central_accuracy)},
                    {"federated_loss", number(m.federated_loss)},
                    {"federated_accuracy", number(m.federated_accuracy)}, {"seconds", m.seconds},
                    {"train_seconds", m.train_seconds}, {"eval_seconds", m.eval_seconds},
                    {"overhead_seconds", m.overhead_seconds}, {"overhead_pct", m.overhead_pct},
                    {"lr", number(m.lr)}, {"dp_epsilon", number(m.dp_epsilon)},
                    {"dp_clip", number(m.dp_clip)}});
    nlohmann::json columns = nlohmann::json::object();
    for (const auto& [key, value] : m.columns) columns[key] = number(value);
    rows.back()["columns"] = std::move(columns);
  }
  return rows.dump();
}

std::vector<RoundMetrics> metrics_from_json(const std::string& json) {
  std::vector<RoundMetrics> out;
  for (const auto& j : nlohmann::json::parse(json)) {
    RoundMetrics m;
    m.round = j.at("round");
    m.clients_sampled = j.at("clients_sampled");
    m.clients_trained = j.at("clients_trained");
    m.failures = j.at("failures");
    m.train_loss = number(j.at("train_loss"));
    m.train_accuracy = number(j.at("train_accuracy"));
    m.central_loss = number(j.at("central_loss"));
    m.central_accuracy = number(j.at("central_accuracy"));
    m.federated_loss = number(j.at("federated_loss"));
    m.federated_accuracy = number(j.at("federated_accuracy"));
    m.seconds = j.at("seconds");
    m.train_seconds = j.at("train_seconds");
    m.eval_seconds = j.at("eval_seconds");
    m.overhead_seconds = j.at("overhead_seconds");
    m.overhead_pct = j.at("overhead_pct");
    // Absent in older checkpoints:
    m.lr = j.contains("lr") ? number(j.at("lr")) : NAN;
    m.dp_epsilon = j.contains("dp_epsilon") ? number(j.at("dp_epsilon")) : NAN;
    m.dp_clip = j.contains("dp_clip") ? number(j.at("dp_clip")) : NAN;
    if (j.contains("columns")) {
      for (const auto& [key, value] : j.at("columns").items()) m.columns[key] = number(value);
    }
    out.push_back(m);
  }
  return out;
}

void write_metrics_csv(const fs::path& dir, const std::vector<RoundMetrics>& history) {
  std::set<std::string> extra;
  for (const auto& m : history) {
    for (const auto& [key, value] : m.columns) extra.insert(key);
  }
  std::vector<std::string> header = metrics_header();
  header.insert(header.end(), extra.begin(), extra.end());
  report::CsvTable csv(header);
  for (const auto& m : history) {
    std::vector<std::string> row = {
        std::to_string(m.round), std::to_string(m.clients_sampled),
        std::to_string(m.clients_trained), std::to_string(m.failures), cell(m.train_loss),
        cell(m.train_accuracy), cell(m.central_loss), cell(m.central_accuracy),
        cell(m.federated_loss), cell(m.federated_accuracy), cell(m.seconds, "{:.3f}"),
        cell(m.train_seconds, "{:.3f}"), cell(m.eval_seconds, "{:.3f}"),
        cell(m.overhead_seconds, "{:.3f}"), cell(m.overhead_pct, "{:.2f}"), cell(m.lr, "{:.6g}"),
        cell(m.dp_epsilon, "{:.6g}"), cell(m.dp_clip, "{:.6g}")};
    for (const auto& key : extra) {
      auto it = m.columns.find(key);
      row.push_back(it == m.columns.end() ? "" : column_cell(it->second));
    }
    csv.add_row(row);
  }
  csv.save(dir / "metrics.csv");
}

void write_run_plots(const fs::path& dir, const std::vector<RoundMetrics>& history,
                     const std::string& title) {
  report::Series train_acc{"train (clients)", {}, {}}, central_acc{"central (held-out)", {}, {}},
      fed_acc{"federated (clients' test)", {}, {}};
  report::Series train_loss = train_acc, central_loss = central_acc, fed_loss = fed_acc;
  auto push = [](report::Series& s, double x, double y) {
    if (std::isfinite(y)) s.x.push_back(x), s.y.push_back(y);
  };
  for (const auto& m : history) {
    const auto x = static_cast<double>(m.round);
    push(train_acc, x, 100 * m.train_accuracy);
    push(central_acc, x, 100 * m.central_accuracy);
    push(fed_acc, x, 100 * m.federated_accuracy);
    push(train_loss, x, m.train_loss);
    push(central_loss, x, m.central_loss);
    push(fed_loss, x, m.federated_loss);
  }
  std::vector<report::Series> acc, loss;
  for (auto* s : {&train_acc, &central_acc, &fed_acc}) {
    if (!s->x.empty()) acc.push_back(*s);
  }
  for (auto* s : {&train_loss, &central_loss, &fed_loss}) {
    if (!s->x.empty()) loss.push_back(*s);
  }
  if (acc.empty()) return;
  report::save_line_plot(dir / "accuracy.png", {"Accuracy: " + title, "round", "accuracy (%)", acc});
  report::save_line_plot(dir / "loss.png", {"Loss: " + title, "round", "cross-entropy", loss});
}

void write_run_outputs(const fs::path& dir, const std::vector<RoundMetrics>& history,
                       const std::string& title) {
  write_metrics_csv(dir, history);
  write_run_plots(dir, history, title);
}

}  // namespace fedsign::fl
