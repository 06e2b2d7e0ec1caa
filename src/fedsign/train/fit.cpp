#include "fedsign/train/fit.h"

#include <spdlog/spdlog.h>
#include <torch/serialize.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/models/registry.h"
#include "fedsign/models/weights.h"
#include "fedsign/report/csv.h"
#include "fedsign/report/plot.h"
#include "fedsign/train/evaluate.h"
#include "fedsign/train/run_files.h"
#include "fedsign/train/trainer.h"
#include "fedsign/train/weight_ema.h"

namespace fedsign::train {
namespace fs = std::filesystem;

namespace {

nlohmann::json to_json(const EpochRecord& r) {
  return {{"epoch", r.epoch}, {"lr", r.lr}, {"train_loss", r.train_loss},
          {"train_accuracy", r.train_accuracy}, {"val_loss", r.val_loss},
          {"val_accuracy", r.val_accuracy}, {"seconds", r.seconds},
          {"images_per_second", r.images_per_second}, {"ema_val_loss", r.ema_val_loss},
          {"ema_val_accuracy", r.ema_val_accuracy}};
}

EpochRecord epoch_from_json(const nlohmann::json& j) {
  EpochRecord r;
  r.epoch = j.at("epoch");
  r.lr = j.at("lr");
  r.train_loss = j.at("train_loss");
  r.train_accuracy = j.at("train_accuracy");
  r.val_loss = j.at("val_loss");
  r.val_accuracy = j.at("val_accuracy");
  r.seconds = j.at("seconds");
  r.images_per_second = j.at("images_per_second");
  r.ema_val_loss = j.value("ema_val_loss", 0.0);
  r.ema_val_accuracy = j.value("ema_val_accuracy", 0.0);
  return r;
}

// metrics.csv and the plots; with_ema adds the weight average's validation columns and lines.
void write_epoch_outputs(const fs::path& dir, const std::vector<EpochRecord>& history,
                         bool with_ema) {
  std::vector<std::string> columns = {"epoch",        "lr",         "train_loss",
                                      "train_accuracy", "val_loss", "val_accuracy",
                                      "seconds",      "images_per_second"};
  if (with_ema) columns.insert(columns.end(), {"ema_val_loss", "ema_val_accuracy"});
  report::CsvTable csv(columns);
  report::Series train_loss{"train", {}, {}}, val_loss{"validation", {}, {}};
  report::Series train_acc{"train", {}, {}}, val_acc{"validation", {}, {}};
  report::Series ema_loss{"validation, weight EMA", {}, {}}, ema_acc{"validation, weight EMA", {}, {}};
  for (const auto& r : history) {
    std::vector<std::string> row = {
        std::to_string(r.epoch), fmt::format("{:.6g}", r.lr),
        fmt::format("{:.5f}", r.train_loss), fmt::format("{:.5f}", r.train_accuracy),
        fmt::format("{:.5f}", r.val_loss), fmt::format("{:.5f}", r.val_accuracy),
        fmt::format("{:.2f}", r.seconds), fmt::format("{:.1f}", r.images_per_second)};
    if (with_ema) {
      row.insert(row.end(), {fmt::format("{:.5f}", r.ema_val_loss),
                             fmt::format("{:.5f}", r.ema_val_accuracy)});
    }
    csv.add_row(row);
    const double e = static_cast<double>(r.epoch);
    train_loss.x.push_back(e), train_loss.y.push_back(r.train_loss);
    val_loss.x.push_back(e), val_loss.y.push_back(r.val_loss);
    train_acc.x.push_back(e), train_acc.y.push_back(r.train_accuracy * 100);
    val_acc.x.push_back(e), val_acc.y.push_back(r.val_accuracy * 100);
    ema_loss.x.push_back(e), ema_loss.y.push_back(r.ema_val_loss);
    ema_acc.x.push_back(e), ema_acc.y.push_back(r.ema_val_accuracy * 100);
  }
  csv.save(dir / "metrics.csv");
  std::vector<report::Series> losses = {train_loss, val_loss}, accuracies = {train_acc, val_acc};
  if (with_ema) losses.push_back(ema_loss), accuracies.push_back(ema_acc);
  report::save_line_plot(dir / "loss.png", {"Loss", "epoch", "cross-entropy", losses});
  report::save_line_plot(dir / "accuracy.png", {"Accuracy", "epoch", "accuracy (%)", accuracies});
}

}  // namespace

FitResult fit(const data::ImageSet& set, const data::TrackSplit& split, const TrainConfig& config,
              const RunOptions& options, const EpochCallback& on_epoch) {
  FEDSIGN_CHECK(!split.train.empty(), "no training images");
  FEDSIGN_CHECK(!options.run_dir.empty(), "no run directory given");
  fs::create_directories(options.run_dir);
  configure_threads(config.threads);

  torch::manual_seed(config.seed);
  models::ModelOptions model_options;
  model_options.input_size = set.height;
  model_options.dropout = config.dropout;
  auto model = models::create_model(config.model, model_options);
  if (!options.init_weights.empty()) {
    models::load_weights(*model, options.init_weights);
    spdlog::info("initialized from {}", options.init_weights.string());
  }
  std::vector<std::string> groups = options.trainable_groups;
  if (groups.size() == 1 && groups[0].starts_with("last:")) {
    groups = models::last_groups(*model, std::stoi(groups[0].substr(5)));
  }
  models::set_trainable_groups(*model, groups);

  Trainer trainer(model, config, make_schedule(config, steps_per_epoch(config, split.train.size())));
  std::unique_ptr<WeightEma> ema;
  TrainHooks hooks;
  if (groups != std::vector<std::string>{"all"}) {
    // Frozen stages stay frozen, their BatchNorm statistics included, as on the federated
    // clients (fl/client/local_client.cpp): they normalize in eval mode.
    hooks.after_train_mode = [groups](models::Classifier& m) { models::hold_frozen_statistics(m, groups); };
  }
  if (options.weight_ema > 0) {
    FEDSIGN_CHECK(!split.validation.empty(),
                  "--weight-ema selects among weight averages on the validation split; with "
                  "--val-fraction 0 there is none");
    ema = std::make_unique<WeightEma>(models::create_model(config.model, model_options), *model,
                                      options.weight_ema);
    apply_memory_format(ema->model(), trainer.compute_mode().channels_last);
    hooks.after_step = [&ema](models::Classifier& m) { ema->update(m); };
  }
  spdlog::info("model {} ({} parameters, {} trainable), {} train / {} validation images, {}",
               config.model, models::count_parameters(*model),
               models::count_parameters(*model, true), split.train.size(),
               split.validation.size(), describe(trainer.compute_mode()));

  FitResult result;
  result.best_model = options.run_dir / "model.pt";
  result.last_checkpoint = options.run_dir / "last.ckpt";
  if (ema) result.raw_model = options.run_dir / "model_raw.pt";
  int64_t first_epoch = 1;
  if (options.resume) {
    CheckpointState state = load_checkpoint(result.last_checkpoint, trainer, ema.get());
    if (ema) apply_memory_format(ema->model(), trainer.compute_mode().channels_last);
    first_epoch = state.epoch + 1;
    result.best_val_accuracy = state.best_val_accuracy;
    result.best_epoch = state.best_epoch;
    for (const auto& j : nlohmann::json::parse(state.history_json)) {
      result.history.push_back(epoch_from_json(j));
      const auto& r = result.history.back();
      if (r.val_accuracy > result.raw_best_val_accuracy || result.raw_best_epoch == 0) {
        result.raw_best_val_accuracy = r.val_accuracy;
        result.raw_best_epoch = r.epoch;
      }
    }
    spdlog::info("resumed from {} after epoch {}", result.last_checkpoint.string(), state.epoch);
  }

  const auto start = std::chrono::steady_clock::now();
  for (int64_t epoch = first_epoch; epoch <= config.epochs; ++epoch) {
    EpochRecord record;
    record.epoch = epoch;
    record.lr = trainer.current_learning_rate();
    TrainStats stats = trainer.train_epoch(set, split.train, epoch, hooks);
    record.train_loss = stats.mean_loss;
    record.train_accuracy = stats.accuracy;
    record.seconds = stats.seconds;
    record.images_per_second = stats.examples / std::max(1e-9, stats.seconds);
    if (!split.validation.empty()) {
      Predictions val = predict_subset(*model, set, split.validation, trainer.compute_mode(),
                                       config.eval_batch_size);
      record.val_loss = val.mean_loss;
      record.val_accuracy = val.accuracy();
    }
    if (ema) {
      Predictions val = predict_subset(ema->model(), set, split.validation, trainer.compute_mode(),
                                       config.eval_batch_size);
      record.ema_val_loss = val.mean_loss;
      record.ema_val_accuracy = val.accuracy();
    }
    result.history.push_back(record);
    const bool raw_best = split.validation.empty() ||
                          record.val_accuracy > result.raw_best_val_accuracy ||
                          result.raw_best_epoch == 0;
    if (raw_best) {
      result.raw_best_val_accuracy = record.val_accuracy;
      result.raw_best_epoch = epoch;
    }
    // model.pt holds the selected weights: the average's best epoch, or the trained weights'.
    const double selected = ema ? record.ema_val_accuracy : record.val_accuracy;
    if (ema ? selected > result.best_val_accuracy || result.best_epoch == 0 : raw_best) {
      result.best_val_accuracy = selected;
      result.best_epoch = epoch;
      models::save_weights(ema ? ema->model() : *model, result.best_model);
    }
    if (ema && raw_best) models::save_weights(*model, result.raw_model);
    nlohmann::json history = nlohmann::json::array();
    for (const auto& r : result.history) history.push_back(to_json(r));
    save_checkpoint(result.last_checkpoint, trainer,
                    {epoch, result.best_val_accuracy, result.best_epoch, history.dump()},
                    ema.get());
    write_epoch_outputs(options.run_dir, result.history, ema != nullptr);
    if (on_epoch) on_epoch(record);
  }
  result.train_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!fs::exists(result.best_model)) models::save_weights(*model, result.best_model);
  return result;
}

}  // namespace fedsign::train
