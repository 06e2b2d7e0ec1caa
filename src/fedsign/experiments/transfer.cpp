#include "fedsign/experiments/transfer.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/experiments/transfer_models.h"
#include "fedsign/models/registry.h"
#include "fedsign/models/weights.h"
#include "fedsign/report/csv.h"
#include "fedsign/report/plot.h"
#include "fedsign/train/evaluate.h"
#include "fedsign/train/model_bundle.h"
#include "fedsign/train/trainer.h"

namespace fedsign::experiments {
namespace fs = std::filesystem;

namespace {

struct ModeInfo {
  TransferMode mode;
  const char* name;
  const char* description;
};

constexpr ModeInfo kModes[] = {
    {TransferMode::kDirect, "direct", "source model as is, no training"},
    {TransferMode::kScratch, "scratch", "same architecture, random init, all trained"},
    {TransferMode::kFeatures, "features", "frozen body, new head trained"},
    {TransferMode::kFinetune, "finetune", "source weights, new output layer, all trained"},
    {TransferMode::kPartial, "partial", "source weights, last groups + head trained"},
};

const ModeInfo& info(TransferMode mode) {
  for (const auto& m : kModes) {
    if (m.mode == mode) return m;
  }
  FEDSIGN_FAIL("unknown transfer mode {}", static_cast<int>(mode));
}

models::ModelOptions model_options(int64_t num_classes, const TransferOptions& o) {
  models::ModelOptions m;
  m.num_classes = num_classes;
  m.input_size = o.input_size;
  m.dropout = o.config.dropout;
  return m;
}

void freeze_all(models::Classifier& model) {
  for (auto& p : model.parameters()) p.requires_grad_(false);
}

// True if any mode was scored on a test split (the tables then get its column).
bool has_test_split(const std::vector<TransferResult>& results) {
  return std::any_of(results.begin(), results.end(),
                     [](const TransferResult& r) { return r.test_images > 0; });
}

// Loss/accuracy of `model` on `indices` (eval mode).
std::pair<double, double> measure(models::Classifier& model, const data::ImageSet& set,
                                  const data::Indices& indices, const train::ComputeMode& mode,
                                  int64_t batch_size) {
  if (indices.empty()) return {0.0, 0.0};
  const train::Predictions p = train::predict_subset(model, set, indices, mode, batch_size);
  return {p.mean_loss, p.accuracy()};
}

void write_mode_outputs(const fs::path& dir, const TransferResult& r) {
  fs::create_directories(dir);
  report::CsvTable csv(
      {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds"});
  report::Series train_loss{"train", {}, {}}, val_loss{"validation", {}, {}};
  report::Series train_acc{"train", {}, {}}, val_acc{"validation", {}, {}};
  for (const auto& e : r.history) {
    csv.add_row({std::to_string(e.epoch), fmt::format("{:.5f}", e.train_loss),
                 fmt::format("{:.5f}", e.train_accuracy), fmt::format("{:.5f}", e.val_loss),
                 fmt::format("{:.5f}", e.val_accuracy), fmt::format("{:.2f}", e.seconds)});
    const auto x = static_cast<double>(e.epoch);
    train_loss.x.push_back(x), train_loss.y.push_back(e.train_loss);
    val_loss.x.push_back(x), val_loss.y.push_back(e.val_loss);
    train_acc.x.push_back(x), train_acc.y.push_back(100 * e.train_accuracy);
    val_acc.x.push_back(x), val_acc.y.push_back(100 * e.val_accuracy);
  }
  csv.save(dir / "metrics.csv");
  if (r.history.empty()) return;
  const std::string name = to_string(r.mode);
  report::save_line_plot(dir / "loss.png",
                         {"Loss (" + name + ")", "epoch", "cross-entropy", {train_loss, val_loss}});
  report::save_line_plot(dir / "accuracy.png", {"Accuracy (" + name + ")", "epoch",
                                                "accuracy (%)", {train_acc, val_acc}});
}

void write_summary(const fs::path& run_dir, const std::vector<TransferResult>& results,
                   const TransferSource& source, const TransferOptions& o) {
  const bool with_test = has_test_split(results);
  std::vector<std::string> columns = {"mode", "val_accuracy", "val_loss", "train_accuracy",
                                      "train_loss", "train_seconds", "parameters",
                                      "trainable_parameters", "epochs"};
  if (with_test) columns.insert(columns.end(), {"test_accuracy", "test_loss", "test_images"});
  report::CsvTable csv(columns);
  int64_t max_epoch = 0;
  for (const auto& r : results) {
    std::vector<std::string> row = {
        to_string(r.mode), fmt::format("{:.5f}", r.val_accuracy), fmt::format("{:.5f}", r.val_loss),
        fmt::format("{:.5f}", r.train_accuracy), fmt::format("{:.5f}", r.train_loss),
        fmt::format("{:.2f}", r.train_seconds), std::to_string(r.parameters),
        std::to_string(r.trainable_parameters), std::to_string(r.history.size())};
    if (with_test) {
      row.insert(row.end(), {fmt::format("{:.5f}", r.test_accuracy), fmt::format("{:.5f}", r.test_loss),
                             std::to_string(r.test_images)});
    }
    csv.add_row(row);
    if (!r.history.empty()) max_epoch = std::max(max_epoch, r.history.back().epoch);
  }
  csv.save(run_dir / "transfer.csv");

  std::string hidden = "none (linear)";
  if (!o.head_hidden.empty()) hidden = fmt::format("{}", fmt::join(o.head_hidden, ", "));
  std::string md = fmt::format(
      "# Transfer learning\n\n"
      "Source: `{}` ({}, {} classes, trained at {} px, contrast {}). Target: {} classes at "
      "{} px (contrast {}), {} epochs per trained mode, optimizer {} lr {:g}, batch {}. Features head hidden "
      "layers: {}; partial fine-tuning trains the last {} layer groups. Validation = the "
      "track-disjoint validation split, model after the last epoch (no selection on it).{}\n\n",
      source.weights.string(), source.architecture, source.num_classes, source.input_size,
      source.contrast, o.num_classes, o.input_size, o.contrast, o.config.epochs, o.config.optimizer.name,
      o.config.optimizer.lr, o.config.batch_size, hidden, o.partial_groups,
      with_test ? " Test split = tracks kept out of training and validation (--test-fraction), "
                  "read once per mode, after its last epoch."
                : "");
  md += transfer_table_markdown(results);
  md += "\n![accuracy](transfer_accuracy.png)\n![loss](transfer_loss.png)\n";
  write_text_atomically(run_dir / "transfer.md", md);

  // All modes on one chart; direct use (no epochs) as a flat line.
  report::LinePlot accuracy{"Validation accuracy per mode", "epoch", "accuracy (%)", {}};
  report::LinePlot loss{"Validation loss per mode", "epoch", "cross-entropy", {}};
  for (const auto& r : results) {
    report::Series a{to_string(r.mode), {}, {}}, l{to_string(r.mode), {}, {}};
    if (r.history.empty()) {
      for (double x : {0.0, static_cast<double>(std::max<int64_t>(1, max_epoch))}) {
        a.x.push_back(x), a.y.push_back(100 * r.val_accuracy);
        l.x.push_back(x), l.y.push_back(r.val_loss);
      }
    }
    for (const auto& e : r.history) {
      a.x.push_back(static_cast<double>(e.epoch)), a.y.push_back(100 * e.val_accuracy);
      l.x.push_back(static_cast<double>(e.epoch)), l.y.push_back(e.val_loss);
    }
    accuracy.series.push_back(a);
    loss.series.push_back(l);
  }
  report::save_line_plot(run_dir / "transfer_accuracy.png", accuracy);
  report::save_line_plot(run_dir / "transfer_loss.png", loss);
}

}  // namespace

TransferMode parse_transfer_mode(const std::string& name) {
  for (const auto& m : kModes) {
    if (name == m.name) return m.mode;
  }
  FEDSIGN_FAIL("unknown transfer mode '{}' (valid: direct, scratch, features, finetune, partial)",
               name);
}

std::string to_string(TransferMode mode) { return info(mode).name; }

std::vector<TransferMode> parse_transfer_modes(const std::string& list) {
  std::string text = list;
  std::replace(text.begin(), text.end(), ',', ' ');
  std::istringstream in(text);
  std::vector<TransferMode> modes;
  for (std::string name; in >> name;) {
    if (name == "all") {
      for (const auto& m : kModes) modes.push_back(m.mode);
      continue;
    }
    const TransferMode mode = parse_transfer_mode(name);
    if (std::find(modes.begin(), modes.end(), mode) == modes.end()) modes.push_back(mode);
  }
  FEDSIGN_CHECK(!modes.empty(), "no transfer modes given");
  return modes;
}

TransferSource resolve_transfer_source(const fs::path& path, const std::string& architecture,
                                       int64_t num_classes) {
  TransferSource s;
  const train::ModelFiles files = train::locate_model_files(path);
  s.weights = files.weights;
  FEDSIGN_CHECK(fs::is_regular_file(s.weights), "{}: source weights not found",
                s.weights.string());
  if (fs::exists(files.info) && architecture.empty()) {
    const train::ModelInfo info = train::read_model_info(files.info);
    s.architecture = info.architecture;
    s.num_classes = info.num_classes;
    s.input_size = info.input_size;
    s.contrast = info.contrast;
    s.has_info = true;
  }
  if (!architecture.empty()) s.architecture = architecture;
  if (num_classes > 0) s.num_classes = num_classes;
  FEDSIGN_CHECK(!s.architecture.empty(),
                "{}: no model.json beside the weights; give the architecture (--source-arch)",
                s.weights.string());
  models::create_model(s.architecture, {});  // validates the name
  return s;
}

std::shared_ptr<models::Classifier> build_transfer_model(TransferMode mode,
                                                         const TransferSource& source,
                                                         const TransferOptions& o) {
  torch::manual_seed(o.config.seed);
  std::shared_ptr<models::Classifier> model;
  switch (mode) {
    case TransferMode::kDirect: {
      auto src = models::create_model(source.architecture, model_options(source.num_classes, o));
      models::load_weights(*src, source.weights);
      std::vector<int> map = o.label_map.empty()
                                 ? identity_label_map(source.num_classes, o.num_classes)
                                 : o.label_map;
      model = std::make_shared<LabelMappedClassifier>(src, map, o.num_classes);
      freeze_all(*model);
      break;
    }
    case TransferMode::kScratch:
      model = models::create_model(source.architecture, model_options(o.num_classes, o));
      models::set_trainable_groups(*model, {"all"});
      break;
    case TransferMode::kFeatures: {
      auto body = models::create_model(source.architecture, model_options(source.num_classes, o));
      models::load_weights(*body, source.weights);
      model = std::make_shared<MlpHeadClassifier>(body, o.head_hidden, o.num_classes,
                                                  o.head_dropout, /*freeze_body=*/true);
      models::set_trainable_groups(*model, {"head"});
      break;
    }
    case TransferMode::kFinetune:
    case TransferMode::kPartial: {
      model = models::create_model(source.architecture, model_options(o.num_classes, o));
      models::LoadWeightsOptions load;
      load.skip_head_mismatch = true;
      models::load_weights(*model, source.weights, load);
      if (!o.keep_head) model->reset_head(o.num_classes);
      if (mode == TransferMode::kFinetune) {
        models::set_trainable_groups(*model, {"all"});
      } else {
        FEDSIGN_CHECK(o.partial_groups >= 1, "partial fine-tuning needs >= 1 layer group, got {}",
                      o.partial_groups);
        models::set_trainable_groups(*model, models::last_groups(*model, o.partial_groups));
      }
      break;
    }
  }
  return model;
}

std::vector<std::string> trainable_parameter_names(const models::Classifier& model) {
  std::vector<std::string> names;
  for (const auto& item : model.named_parameters()) {
    if (item.value().requires_grad()) names.push_back(item.key());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string transfer_table_markdown(const std::vector<TransferResult>& results) {
  const bool with_test = has_test_split(results);
  std::string md = fmt::format(
      "| mode | what | trainable params | validation accuracy | validation loss |{} train accuracy | "
      "train loss | training time |\n|---|---|---:|---:|---:|{}---:|---:|---:|\n",
      with_test ? " test split accuracy |" : "", with_test ? "---:|" : "");
  for (const auto& r : results) {
    md += fmt::format("| {} | {} | {} / {} | {:.2f}% | {:.4f} |{} {:.2f}% | {:.4f} | {:.1f} s |\n",
                      to_string(r.mode), info(r.mode).description, r.trainable_parameters,
                      r.parameters, 100 * r.val_accuracy, r.val_loss,
                      with_test ? fmt::format(" {:.2f}% |", 100 * r.test_accuracy) : "",
                      100 * r.train_accuracy, r.train_loss, r.train_seconds);
  }
  return md;
}

std::vector<TransferResult> run_transfer(const data::ImageSet& set, const data::TrackSplit& split,
                                         const TransferSource& source, const TransferOptions& o,
                                         const fs::path& run_dir,
                                         const TransferProgress& progress) {
  FEDSIGN_CHECK(!split.train.empty(), "transfer: no training images");
  FEDSIGN_CHECK(!split.validation.empty(), "transfer: no validation images");
  FEDSIGN_CHECK(set.height == o.input_size, "transfer: images are {} px but input_size is {}",
                set.height, o.input_size);
  fs::create_directories(run_dir);
  train::configure_threads(o.config.threads);
  const auto eval_batch = o.config.eval_batch_size;

  std::vector<TransferResult> results;
  for (const TransferMode mode : o.modes) {
    spdlog::info("transfer mode '{}': {}", to_string(mode), info(mode).description);
    auto model = build_transfer_model(mode, source, o);
    TransferResult r;
    r.mode = mode;
    r.parameters = models::count_parameters(*model);
    r.trainable_parameters = models::count_parameters(*model, true);

    train::ComputeMode compute;
    if (mode == TransferMode::kDirect) {
      compute = train::resolve_compute_mode(o.config.precision, o.config.memory_format);
      train::apply_memory_format(*model, compute.channels_last);
      std::tie(r.val_loss, r.val_accuracy) =
          measure(*model, set, split.validation, compute, eval_batch);
    } else {
      const auto batch = static_cast<std::size_t>(o.config.batch_size);
      const auto steps_per_epoch = static_cast<int64_t>((split.train.size() + batch - 1) / batch);
      train::Trainer trainer(model, o.config, train::make_schedule(o.config, steps_per_epoch));
      compute = trainer.compute_mode();
      for (int64_t epoch = 1; epoch <= o.config.epochs; ++epoch) {
        const train::TrainStats stats = trainer.train_epoch(set, split.train, epoch);
        TransferEpoch e;
        e.epoch = epoch;
        e.train_loss = stats.mean_loss;
        e.train_accuracy = stats.accuracy;
        e.seconds = stats.seconds;
        std::tie(e.val_loss, e.val_accuracy) =
            measure(*model, set, split.validation, compute, eval_batch);
        r.train_seconds += stats.seconds;
        r.history.push_back(e);
        if (progress) progress(mode, e);
      }
      if (!r.history.empty()) {
        r.val_loss = r.history.back().val_loss;
        r.val_accuracy = r.history.back().val_accuracy;
      } else {
        std::tie(r.val_loss, r.val_accuracy) =
            measure(*model, set, split.validation, compute, eval_batch);
      }
    }
    std::tie(r.train_loss, r.train_accuracy) =
        measure(*model, set, split.train, compute, eval_batch);
    if (!split.test.empty()) {  // the one reading of the test split, of the final model
      std::tie(r.test_loss, r.test_accuracy) = measure(*model, set, split.test, compute, eval_batch);
      r.test_images = split.test.size();
    }
    spdlog::info("{}: validation accuracy {:.2f}% loss {:.4f}, train accuracy {:.2f}% loss {:.4f}, "
                 "{:.1f} s, {} of {} parameters trained",
                 to_string(mode), 100 * r.val_accuracy, r.val_loss, 100 * r.train_accuracy,
                 r.train_loss, r.train_seconds, r.trainable_parameters, r.parameters);

    const fs::path mode_dir = run_dir / to_string(mode);
    write_mode_outputs(mode_dir, r);
    if (mode == TransferMode::kScratch || mode == TransferMode::kFinetune ||
        mode == TransferMode::kPartial) {
      train::apply_memory_format(*model, false);
      models::save_weights(*model, mode_dir / "model.pt");
      train::save_model_info(mode_dir / "model.json",
                             {source.architecture, o.num_classes, o.input_size, o.contrast});
    }
    results.push_back(std::move(r));
    write_summary(run_dir, results, source, o);  // after each mode, so a partial run is usable
  }
  return results;
}

}  // namespace fedsign::experiments
