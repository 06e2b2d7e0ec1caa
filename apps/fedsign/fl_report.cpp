#include "fl_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "fedsign/core/atomic_file.h"
#include "fedsign/fl/privacy/dp_fedavg.h"
#include "fedsign/report/csv.h"
#include "fedsign/report/plot.h"

namespace fedsign::cli {

data::PartitionStats report_partition(const data::ImageSet& set,
                                      const std::vector<data::Indices>& parts,
                                      const PartitionOptions& o, const std::filesystem::path& out,
                                      bool table) {
  data::PartitionStats stats = data::partition_stats(set, parts);
  std::printf("partition: %s\n%s\n", partition_title(o).c_str(), data::describe(stats).c_str());
  if (table) {
    std::printf("%7s %7s %7s %8s %10s\n", "client", "images", "tracks", "classes", "top class");
    const std::size_t shown = parts.size() <= 50 ? parts.size() : 20;
    for (std::size_t j = 0; j < shown; ++j) {
      const auto& counts = stats.counts[j];
      const auto top = std::max_element(counts.begin(), counts.end()) - counts.begin();
      std::printf("%7zu %7lld %7lld %8d %4lld (%2.0f%%)\n", j,
                  static_cast<long long>(stats.images[j]), static_cast<long long>(stats.tracks[j]),
                  stats.classes[j], static_cast<long long>(top), 100 * stats.max_share[j]);
    }
    if (shown < parts.size()) std::printf("    ... %zu more clients\n", parts.size() - shown);
  }
  if (!out.empty()) {
    std::filesystem::create_directories(out);
    report::save_count_heatmap(out / "partition.png", stats.counts,
                               "Images per client and class: " + partition_title(o), "class",
                               "client");
    std::vector<std::string> header = {"client", "images", "tracks", "classes"};
    for (int c = 0; c < stats.num_classes; ++c) header.push_back("class_" + std::to_string(c));
    report::CsvTable csv(header);
    for (std::size_t j = 0; j < parts.size(); ++j) {
      std::vector<std::string> row = {std::to_string(j), std::to_string(stats.images[j]),
                                      std::to_string(stats.tracks[j]),
                                      std::to_string(stats.classes[j])};
      for (int64_t n : stats.counts[j]) row.push_back(std::to_string(n));
      csv.add_row(row);
    }
    csv.save(out / "partition.csv");
  }
  return stats;
}

namespace {
std::string percent(double v) {
  return std::isfinite(v) ? fmt::format("{:.2f}%", 100 * v) : std::string("-");
}
}  // namespace

void write_summary(const std::filesystem::path& dir, const SimulationSummary& s,
                   const fl::Strategy& strategy, const fl::SimulationResult& result) {
  const fl::FederationConfig& f = s.federation.config;
  double best = NAN, total = 0, train = 0, eval = 0, overhead = 0;
  int64_t best_round = 0, failures = 0;
  const fl::RoundMetrics* last_eval = nullptr;
  for (const auto& m : result.history) {
    total += m.seconds;
    train += m.train_seconds;
    eval += m.eval_seconds;
    overhead += m.overhead_seconds;
    failures += m.failures;
    if (std::isfinite(m.central_accuracy)) {
      last_eval = &m;
      if (!(m.central_accuracy <= best)) best = m.central_accuracy, best_round = m.round;
    }
  }
  std::string text = fmt::format(
      "# Federated run: {}\n\n| | |\n|---|---|\n"
      "| strategy | {} |\n| model | {} (local: {} lr {}, batch {}, {}) |\n"
      "| clients | {} ({}), {} per round |\n| partition | {} |\n"
      "| data | {} central held-out images; clients train on {} real images{} and keep {} "
      "(whole tracks, `--client-test-fraction`) for federated evaluation |\n"
      "| rounds | {} |\n| BatchNorm | {} |\n| client failures | {} |\n| attack | {} |\n"
      "| uploads | {} |\n",
      s.federation.name.empty() ? dir.filename().string() : s.federation.name, strategy.name(),
      s.local.model, s.local.optimizer.name, f.lr, s.local.batch_size,
      f.local_steps > 0 ? fmt::format("{} steps", f.local_steps)
                        : fmt::format("{} epochs", f.local_epochs),
      s.partition.clients, partition_title(s.partition),
      f.clients_per_round > 0 ? std::to_string(f.clients_per_round)
                              : fmt::format("fraction {}", f.fraction_fit),
      data::describe(s.stats), s.central_images, s.clients_train_images,
      s.clients_renders > 0 ? fmt::format(" plus {} pictogram renders (`--client-renders`)",
                                          s.clients_renders)
                            : std::string(),
      s.clients_test_images,
      f.rounds, s.bn, failures, s.attack, s.compress);
  if (last_eval) {
    const char* precision = f.eval_precision == "int8" ? ", int8: `--eval-precision`" : "";
    text += fmt::format(
        "| final central accuracy | {} (round {}{}) |\n| best central accuracy | {} "
        "(round {}{}) |\n| final federated accuracy | {} |\n",
        percent(last_eval->central_accuracy), last_eval->round, precision, percent(best),
        best_round, precision, percent(last_eval->federated_accuracy));
  }
  if (const auto* dp = dynamic_cast<const fl::privacy::DpFedAvg*>(&strategy)) {
    const fl::privacy::DpOptions& o = dp->options();
    text += fmt::format(
        "| differential privacy | {} (client-level), noise multiplier {:.4g}, clip {:g}{}; "
        "epsilon {:.4g} at delta {:g} after {} rounds{} |\n",
        fl::privacy::to_string(o.mode), o.noise_multiplier, o.clip,
        o.adaptive_clip ? fmt::format(" (adaptive, now {:.4g})", dp->clip()) : "", dp->epsilon(),
        o.delta, dp->accountant().steps(),
        o.target_epsilon > 0 ? fmt::format(" (budget {:g})", o.target_epsilon) : "");
  }
  text += fmt::format(
      "| time | {:.1f} s: {:.1f} s local training, {:.1f} s evaluation, {:.1f}% simulation "
      "overhead |\n"
      "| client states | {} clients, {:.1f} MB (in client_states/) |\n\nFiles: metrics.csv, "
      "accuracy.png, loss.png, partition.png, model.pt + model.json (final global model: "
      "`fedsign evaluate {}`), server.ckpt (`--resume`).\n",
      total, train, eval, total > 0 ? 100 * overhead / total : 0.0, result.client_states,
      static_cast<double>(result.client_state_bytes) / 1e6, dir.string());
  write_text_atomically(dir / "summary.md", text);
}

}  // namespace fedsign::cli
