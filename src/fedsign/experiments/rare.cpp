#include "fedsign/experiments/rare.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/core/hash.h"
#include "fedsign/data/gtsrb_reader.h"
#include "fedsign/data/sign_names.h"
#include "fedsign/data/split.h"
#include "fedsign/models/registry.h"
#include "fedsign/models/weights.h"
#include "fedsign/report/csv.h"
#include "fedsign/report/plot.h"
#include "fedsign/train/evaluate.h"
#include "fedsign/train/fit.h"
#include "fedsign/train/model_bundle.h"
#include "fedsign/train/precision.h"

namespace fedsign::experiments {
namespace fs = std::filesystem;

std::vector<int> rarest_classes(const std::vector<int64_t>& counts, int count) {
  std::vector<int> present;
  for (std::size_t c = 0; c < counts.size(); ++c)
    if (counts[c] > 0) present.push_back(static_cast<int>(c));
  std::stable_sort(present.begin(), present.end(),
                   [&](int a, int b) { return counts[a] < counts[b]; });
  present.resize(std::min<std::size_t>(present.size(), std::max(0, count)));
  std::sort(present.begin(), present.end());
  return present;
}

data::Indices mix_indices(const data::Indices& real, const data::Indices& synthetic, double ratio,
                          uint64_t seed) {
  data::Indices out = real;
  if (ratio <= 0 || synthetic.empty()) return out;
  const auto wanted = static_cast<std::size_t>(std::llround(ratio * real.size()));
  std::mt19937_64 rng(seed);
  data::Indices pool = synthetic;
  std::size_t cursor = pool.size();
  for (std::size_t i = 0; i < wanted; ++i) {
    if (cursor == pool.size()) {
      std::shuffle(pool.begin(), pool.end(), rng);
      cursor = 0;
    }
    out.push_back(pool[cursor++]);
  }
  return out;
}

std::string withheld_image_leak(const data::ImageSet& set, std::size_t real_images,
                                const std::vector<int>& rare_classes, const data::Indices& real_train,
                                const data::Indices& train) {
  const std::set<int> rare(rare_classes.begin(), rare_classes.end());
  const std::set<int64_t> allowed(real_train.begin(), real_train.end());
  for (const int64_t i : train) {
    if (i < 0 || static_cast<std::size_t>(i) >= real_images) continue;  // synthetic
    if (rare.count(set.labels[i])) {
      return fmt::format("real image {} ({}) of withheld class {}", i, set.paths[i], set.labels[i]);
    }
    if (!allowed.count(i)) {
      return fmt::format("real image {} ({}) is not in the training split", i, set.paths[i]);
    }
  }
  return {};
}

GroupAccuracy group_accuracy(const std::vector<int>& truth, const std::vector<int>& predicted,
                             const std::vector<int>& rare_classes, int num_classes) {
  FEDSIGN_CHECK(truth.size() == predicted.size(), "{} labels for {} predictions", truth.size(),
                predicted.size());
  GroupAccuracy g;
  g.per_class.assign(num_classes, 0.0);
  g.support.assign(num_classes, 0);
  std::vector<int64_t> correct(num_classes, 0);
  std::vector<bool> rare(num_classes, false);
  for (int c : rare_classes)
    if (c >= 0 && c < num_classes) rare[c] = true;
  int64_t c_all = 0, c_rare = 0, c_freq = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    const int t = truth[i];
    FEDSIGN_CHECK(t >= 0 && t < num_classes, "class {} out of range", t);
    const bool ok = predicted[i] == t;
    ++g.support[t];
    correct[t] += ok;
    ++g.n_all;
    c_all += ok;
    if (rare[t]) {
      ++g.n_rare;
      c_rare += ok;
    } else {
      ++g.n_frequent;
      c_freq += ok;
    }
  }
  for (int c = 0; c < num_classes; ++c)
    g.per_class[c] = g.support[c] ? static_cast<double>(correct[c]) / g.support[c] : 0.0;
  g.all = g.n_all ? static_cast<double>(c_all) / g.n_all : 0.0;
  g.rare = g.n_rare ? static_cast<double>(c_rare) / g.n_rare : 0.0;
  g.frequent = g.n_frequent ? static_cast<double>(c_freq) / g.n_frequent : 0.0;
  return g;
}

namespace {

std::string pct(double v) { return fmt::format("{:.1f}%", 100 * v); }

struct TrainRun {
  std::string name;
  data::Indices train;
  train::TrainConfig config;
  fs::path init_weights;
  std::vector<std::string> groups = {"all"};
};

struct TrainedRun {
  train::Predictions validation;
  train::Predictions test;  // empty without a test split
  double seconds = 0;
};

// Trains with fit() (no validation: the last epoch's weights are kept) and returns the
// predictions on the validation split and, read once here, on the test split.
TrainedRun train_and_predict(const data::ImageSet& set, const data::TrackSplit& evaluation,
                             const TrainRun& run, data::Contrast contrast, const fs::path& dir) {
  data::TrackSplit split;
  split.train = run.train;
  train::RunOptions options;
  options.run_dir = dir;
  options.init_weights = run.init_weights;
  options.trainable_groups = run.groups;
  spdlog::info("[{}] training on {} images for {} epochs", run.name, run.train.size(),
               run.config.epochs);
  const train::FitResult fit = train::fit(set, split, run.config, options, [&](const train::EpochRecord& r) {
    spdlog::info("[{}] epoch {:2}/{}  lr {:.2e}  train loss {:.4f} acc {:6.2f}%  {:5.1f}s ({:.0f} img/s)",
                 run.name, r.epoch, run.config.epochs, r.lr, r.train_loss, 100 * r.train_accuracy,
                 r.seconds, r.images_per_second);
  });
  // model.json beside model.pt, so `fedsign evaluate/predict DIR` take every variant's model.
  train::save_model_info(dir / "model.json", {run.config.model, data::kNumGtsrbClasses, set.height,
                                              data::to_string(contrast)});
  models::ModelOptions model_options;
  model_options.input_size = set.height;
  auto model = models::create_model(run.config.model, model_options);
  models::load_weights(*model, fit.best_model);
  const auto mode = train::resolve_compute_mode(run.config.precision, run.config.memory_format);
  train::apply_memory_format(*model, mode.channels_last);
  TrainedRun trained;
  trained.validation =
      train::predict_subset(*model, set, evaluation.validation, mode, run.config.eval_batch_size);
  if (!evaluation.test.empty()) {
    trained.test = train::predict_subset(*model, set, evaluation.test, mode, run.config.eval_batch_size);
  }
  trained.seconds = fit.train_seconds;
  return trained;
}

void set_accuracies(RareVariantResult& v, const TrainedRun& run, const std::vector<int>& rare) {
  v.accuracy = group_accuracy(run.validation.truth, run.validation.predicted, rare);
  if (!run.test.truth.empty()) v.test = group_accuracy(run.test.truth, run.test.predicted, rare);
  v.train_seconds = run.seconds;
}

}  // namespace

data::ImageSet prepare_synthetic(const RareConfig& config, const std::vector<int>& classes,
                                 double* images_per_minute) {
  FEDSIGN_CHECK(!config.synth_dir.empty(), "no folder for the synthetic images");
  RenderRequest request;
  request.meta_dir = config.meta_dir;
  request.backgrounds = config.backgrounds;
  request.out_dir = config.synth_dir;
  request.classes = classes;
  request.per_class = config.synth_per_class;
  request.seed = config.synth_seed;
  request.threads = config.synth_threads;
  request.synth = config.synth;
  request.load = config.load;
  return prepare_renders(request, images_per_minute);
}

RareResult run_rare_protocol(const data::ImageSet& real, const data::TrackSplit& split,
                             const RareConfig& config, const fs::path& run_dir) {
  FEDSIGN_CHECK(config.fine_tune == "full" || config.fine_tune == "partial" ||
                    config.fine_tune == "head",
                "fine-tune mode '{}' (full, partial or head)", config.fine_tune);
  FEDSIGN_CHECK(config.synth_classes == "all" || config.synth_classes == "rare",
                "synthetic classes '{}' (all or rare)", config.synth_classes);
  fs::create_directories(run_dir);
  RareResult result;
  result.real_train_counts = data::class_counts(real, split.train);
  result.rare_classes = config.rare_classes.empty()
                            ? rarest_classes(result.real_train_counts, config.rare_count)
                            : config.rare_classes;
  std::sort(result.rare_classes.begin(), result.rare_classes.end());
  FEDSIGN_CHECK(!result.rare_classes.empty(), "no rare classes chosen");
  std::string rare_list;
  for (int c : result.rare_classes) rare_list += fmt::format("{}{}", rare_list.empty() ? "" : ",", c);
  spdlog::info("rare classes: {} ({} real training images withheld)", rare_list,
               split.train.size() - data::filter_classes(real, split.train, result.rare_classes, false).size());

  // One set: real images, then synthetic ones.
  data::ImageSet set = real;
  const data::Indices frequent_train = data::filter_classes(set, split.train, result.rare_classes, false);
  std::vector<int> synth_classes;
  if (config.synth_classes == "rare") {
    synth_classes = result.rare_classes;
  } else {
    for (int c = 0; c < data::kNumGtsrbClasses; ++c) synth_classes.push_back(c);
  }
  data::Indices synthetic;
  const bool needs_synthetic =
      config.pretrain_synthetic ||
      std::any_of(config.variants.begin(), config.variants.end(),
                  [](const std::string& v) { return v != "no-synthetic"; });
  if (needs_synthetic) {
    data::ImageSet synth_set = prepare_synthetic(config, synth_classes, &result.synth_images_per_minute);
    FEDSIGN_CHECK(synth_set.height == real.height && synth_set.width == real.width,
                  "synthetic images decode to {}x{}, real ones to {}x{}", synth_set.width,
                  synth_set.height, real.width, real.height);
    synthetic = data::append(set, synth_set, kRenderTrackOffset);
    result.synthetic_images = synthetic.size();
  }

  // 1. Pretraining on the frequent real classes.
  TrainRun pretrain;
  pretrain.name = "pretrain";
  pretrain.config = config.train;
  pretrain.config.epochs = config.pretrain_epochs;
  pretrain.train = config.pretrain_synthetic
                       ? mix_indices(frequent_train, synthetic, config.mix_ratio, config.train.seed)
                       : frequent_train;
  result.real_images = real.size();
  auto check_and_record = [&](const std::string& name, const data::Indices& train) {
    const std::string leak =
        withheld_image_leak(set, real.size(), result.rare_classes, split.train, train);
    FEDSIGN_CHECK(leak.empty(), "rare protocol, run '{}': {}", name, leak);
    result.training_sets[name] = train;
  };
  check_and_record(pretrain.name, pretrain.train);
  const TrainedRun pretrained_run =
      train_and_predict(set, split, pretrain, config.load.contrast, run_dir / "pretrain");
  const fs::path pretrained = run_dir / "pretrain" / "model.pt";

  const data::Indices mixed =
      mix_indices(frequent_train, synthetic, config.mix_ratio, config.train.seed + 1);
  std::vector<std::string> groups = {"all"};
  if (config.fine_tune == "head") groups = {"head"};
  if (config.fine_tune == "partial") groups = {"last:" + std::to_string(config.fine_tune_groups)};

  for (const std::string& name : config.variants) {
    RareVariantResult v;
    v.name = name;
    if (name == "no-synthetic") {
      v.description = fmt::format("pretrained on real frequent classes only ({} epochs)",
                                  config.pretrain_epochs);
      set_accuracies(v, pretrained_run, result.rare_classes);
    } else {
      FEDSIGN_CHECK(name == "synthetic" || name == "synthetic-supcon" || name == "scratch",
                    "unknown variant '{}' (no-synthetic, synthetic, synthetic-supcon, scratch)", name);
      TrainRun run;
      run.name = name;
      run.train = mixed;
      run.config = config.train;
      if (name == "scratch") {
        run.config.epochs = config.pretrain_epochs + config.epochs;
        v.description = fmt::format("from scratch on real frequent + synthetic (ratio {}) for {} epochs",
                                    config.mix_ratio, run.config.epochs);
      } else {
        run.config.epochs = config.epochs;
        run.init_weights = pretrained;
        run.groups = groups;
        if (config.fine_tune_lr > 0) run.config.optimizer.lr = config.fine_tune_lr;
        v.description = fmt::format("pretrained, then {} fine-tuning on real frequent + synthetic "
                                    "(ratio {}) for {} epochs",
                                    config.fine_tune, config.mix_ratio, config.epochs);
      }
      if (name == "synthetic-supcon") {
        run.config.sampler = "balanced";
        run.config.classes_per_batch = config.classes_per_batch;
        run.config.images_per_class = config.images_per_class;
        run.config.contrastive_weight = config.contrastive_weight;
        run.config.contrastive_temperature = config.contrastive_temperature;
        v.description += fmt::format(", balanced {}x{} batches, SupCon weight {} (t = {})",
                                     config.classes_per_batch, config.images_per_class,
                                     config.contrastive_weight, config.contrastive_temperature);
      }
      check_and_record(name, run.train);
      set_accuracies(v, train_and_predict(set, split, run, config.load.contrast, run_dir / name),
                     result.rare_classes);
    }
    spdlog::info("[{}] validation accuracy all {}  rare {}  frequent {}", name, pct(v.accuracy.all),
                 pct(v.accuracy.rare), pct(v.accuracy.frequent));
    result.variants.push_back(v);
  }
  result.report_md = run_dir / "report.md";
  return result;
}

namespace {
// Markdown table of the rare classes' per-class accuracy of every variant on one split, and
// its rows in `csv`.
std::string per_class_table(const RareResult& r, const std::string& split,
                            GroupAccuracy RareVariantResult::*accuracy, report::CsvTable& csv) {
  std::string md = fmt::format("| class | sign | {} images |", split);
  for (const auto& v : r.variants) md += " " + v.name + " |";
  md += "\n|---|---|---|";
  for (std::size_t i = 0; i < r.variants.size(); ++i) md += "---|";
  md += "\n";
  for (int c : r.rare_classes) {
    const int64_t support = r.variants.empty() ? 0 : (r.variants.front().*accuracy).support.at(c);
    md += fmt::format("| {} | {} | {} |", c, data::sign_name(c), support);
    for (const auto& v : r.variants) {
      const double a = (v.*accuracy).per_class.at(c);
      md += " " + pct(a) + " |";
      csv.add_row({std::to_string(c), v.name, split, fmt::format("{:.5f}", a), std::to_string(support)});
    }
    md += "\n";
  }
  return md;
}
}  // namespace

void write_rare_report(const fs::path& dir, const RareResult& r, const std::string& command_line) {
  fs::create_directories(dir);
  const bool with_test = std::any_of(r.variants.begin(), r.variants.end(),
                                     [](const RareVariantResult& v) { return v.test.n_all > 0; });
  std::string md = "# Rare-sign protocol\n\n";
  if (!command_line.empty()) md += fmt::format("```\n{}\n```\n\n", command_line);
  md += "Rare classes (all real training images withheld): ";
  for (std::size_t i = 0; i < r.rare_classes.size(); ++i) {
    const int c = r.rare_classes[i];
    md += fmt::format("{}{} ({}, {} withheld)", i ? ", " : "", c, data::sign_name(c),
                      c < static_cast<int>(r.real_train_counts.size()) ? r.real_train_counts[c] : 0);
  }
  md += fmt::format(".\n\nSynthetic images: {}{}.\n\n", r.synthetic_images,
                    r.synth_images_per_minute > 0
                        ? fmt::format(" (rendered at {:.0f} images/min)", r.synth_images_per_minute)
                        : std::string());
  md += "Validation: the track-disjoint validation split, each variant's last epoch (no selection).";
  if (with_test) {
    md += fmt::format(" Test: the untouched test split ({} images, {} of the rare classes), read "
                      "once per variant after its training.",
                      r.variants.front().test.n_all, r.variants.front().test.n_rare);
  }
  md += "\n\n| variant | all | rare | frequent |";
  md += with_test ? " test: all | test: rare | test: frequent |" : "";
  md += " training time | what |\n|---|---|---|---|";
  md += with_test ? "---|---|---|" : "";
  md += "---|---|\n";
  std::vector<std::string> columns = {"variant", "accuracy_all", "accuracy_rare", "accuracy_frequent",
                                      "n_all", "n_rare", "n_frequent", "train_seconds"};
  if (with_test) {
    columns.insert(columns.end(), {"test_accuracy_all", "test_accuracy_rare",
                                   "test_accuracy_frequent", "n_test_all", "n_test_rare",
                                   "n_test_frequent"});
  }
  report::CsvTable csv(columns);
  report::BarChart chart;
  chart.title = "Rare-sign protocol: validation accuracy";
  chart.y_label = "accuracy (%)";
  chart.group_names = {"all", "rare", "frequent"};
  chart.values.assign(3, {});
  for (const auto& v : r.variants) {
    const auto& a = v.accuracy;
    const auto& t = v.test;
    md += fmt::format("| {} | {} | {} | {} |", v.name, pct(a.all), pct(a.rare), pct(a.frequent));
    if (with_test) md += fmt::format(" {} | {} | {} |", pct(t.all), pct(t.rare), pct(t.frequent));
    md += fmt::format(" {:.0f} s | {} |\n", v.train_seconds, v.description);
    std::vector<std::string> row = {v.name, fmt::format("{:.5f}", a.all), fmt::format("{:.5f}", a.rare),
                                    fmt::format("{:.5f}", a.frequent), std::to_string(a.n_all),
                                    std::to_string(a.n_rare), std::to_string(a.n_frequent),
                                    fmt::format("{:.1f}", v.train_seconds)};
    if (with_test) {
      row.insert(row.end(), {fmt::format("{:.5f}", t.all), fmt::format("{:.5f}", t.rare),
                             fmt::format("{:.5f}", t.frequent), std::to_string(t.n_all),
                             std::to_string(t.n_rare), std::to_string(t.n_frequent)});
    }
    csv.add_row(row);
    chart.labels.push_back(v.name);
    chart.values[0].push_back(100 * a.all);
    chart.values[1].push_back(100 * a.rare);
    chart.values[2].push_back(100 * a.frequent);
  }
  report::CsvTable per_class({"class", "variant", "split", "accuracy", "images"});
  md += "\n## Per-class accuracy of the rare classes\n\n";
  md += per_class_table(r, "validation", &RareVariantResult::accuracy, per_class);
  if (with_test) {
    md += "\nOn the test split:\n\n";
    md += per_class_table(r, "test", &RareVariantResult::test, per_class);
  }
  md += "\nreport.csv: the table above; report_rare_classes.csv: per-class accuracy; report.png: "
        "the chart (validation).\n";
  write_text_atomically(dir / "report.md", md);
  csv.save(dir / "report.csv");
  per_class.save(dir / "report_rare_classes.csv");
  if (!r.variants.empty()) report::save_bar_chart(dir / "report.png", chart);
}

}  // namespace fedsign::experiments
