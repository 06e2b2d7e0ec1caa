// `fedsign evaluate MODEL`: accuracy, macro accuracy, per-class precision/recall, confusion
// matrix (CSV + PNG), worst classes and per-image results on a dataset or its validation split.
// A test set (--subset test, or a folder that holds only one) is scored whole: its images are
// one "track" each, so the track split would keep about a fifth of them.
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <random>

#include "commands.h"
#include "data_options.h"
#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/core/hash.h"
#include "fedsign/data/gtsrb_reader.h"
#include "fedsign/data/sign_names.h"
#include "fedsign/models/int8_compact.h"
#include "fedsign/report/csv.h"
#include "fedsign/report/plot.h"
#include "fedsign/train/evaluate.h"
#include "fedsign/train/int8_model.h"
#include "fedsign/train/metrics.h"
#include "fedsign/train/model_bundle.h"
#include "fedsign/train/trainer.h"

namespace fedsign::cli {

namespace {
struct EvaluateCommand {
  std::string model;
  DataOptions data;
  std::string split = "auto";  // validation for a training set, all for a test set
  std::string out = "runs/evaluate";
  std::string precision = "auto";
  int64_t batch_size = 256;
  int worst = 5;
  int tta = 1;
};

void write_outputs(const std::filesystem::path& out, const data::ImageSet& set,
                   const data::Indices& indices, const train::Predictions& p,
                   const train::ClassificationReport& r) {
  report::CsvTable per_image({"path", "true", "predicted", "confidence"});
  for (std::size_t i = 0; i < indices.size(); ++i) {
    per_image.add_row({set.paths[indices[i]], std::to_string(p.truth[i]),
                       std::to_string(p.predicted[i]), fmt::format("{:.4f}", p.confidence[i])});
  }
  per_image.save(out / "predictions.csv");

  report::CsvTable per_class({"class", "name", "support", "precision", "recall"});
  for (int c = 0; c < r.num_classes; ++c) {
    per_class.add_row({std::to_string(c), std::string(data::sign_name(c)),
                       std::to_string(r.support[c]), fmt::format("{:.4f}", r.precision[c]),
                       fmt::format("{:.4f}", r.recall[c])});
  }
  per_class.save(out / "per_class.csv");

  std::vector<std::string> header = {"true\\predicted"};
  for (int c = 0; c < r.num_classes; ++c) header.push_back(std::to_string(c));
  report::CsvTable confusion(header);
  report::Heatmap heatmap{"Confusion matrix (row-normalized)", "predicted class", "true class", {}};
  for (int t = 0; t < r.num_classes; ++t) {
    std::vector<std::string> row = {std::to_string(t)};
    std::vector<double> normalized;
    for (int c = 0; c < r.num_classes; ++c) {
      row.push_back(std::to_string(r.confusion[t][c]));
      normalized.push_back(r.support[t] ? static_cast<double>(r.confusion[t][c]) / r.support[t] : 0);
    }
    confusion.add_row(row);
    heatmap.values.push_back(normalized);
  }
  confusion.save(out / "confusion.csv");
  report::save_heatmap(out / "confusion.png", heatmap);
}

// The images a model is scored on: the dataset decoded for the model, and the split's indices.
struct Scored {
  data::ImageSet set;
  data::Subset subset = data::Subset::kTrain;
  std::string split;
  data::Indices indices;
  data::Indices train;  // the split's training part (calibration); empty for a test set or "all"
};

Scored load_scored(const train::LoadedModel& loaded, DataOptions data, const std::string& split) {
  Scored s;
  data.size = loaded.info.input_size;  // the model decides its input
  data.contrast = loaded.info.contrast;
  s.set = load_dataset(data, &s.subset);
  const bool test_set = s.subset == data::Subset::kTest;
  FEDSIGN_CHECK(!(test_set && (split == "validation" || split == "test")),
                "--split {} splits a training set by track; the test set in {} is scored "
                "whole (use --split all or leave --split out)",
                split, data.data_dir);
  s.split = split == "auto" ? (test_set ? "all" : "validation") : split;
  FEDSIGN_CHECK(s.split != "test" || data.test_fraction > 0,
                "--split test needs the --test-fraction (and --split-seed) the run was split with");
  if (s.split == "all") {
    s.indices = data::all_indices(s.set);
  } else {
    data::TrackSplit parts = split_dataset(s.set, data);
    s.indices = s.split == "test" ? std::move(parts.test) : std::move(parts.validation);
    s.train = std::move(parts.train);
  }
  FEDSIGN_CHECK(!s.indices.empty(), "nothing to evaluate: the {} split is empty", s.split);
  train::configure_threads(data.threads);
  return s;
}

void run(const EvaluateCommand& o) {
  train::LoadedModel loaded = train::load_model_bundle(o.model);
  Scored scored = load_scored(loaded, o.data, o.split);
  const data::ImageSet& set = scored.set;
  const data::Indices& indices = scored.indices;
  const data::Subset subset = scored.subset;
  const std::string& split = scored.split;
  train::Predictions p;
  if (o.precision == "int8") {
    p = train::predict_subset(*train::load_int8_model(loaded), set, indices, o.batch_size, o.tta);
  } else {
    const auto mode = train::resolve_compute_mode(o.precision, "auto");
    train::apply_memory_format(*loaded.model, mode.channels_last);
    p = train::predict_subset(*loaded.model, set, indices, mode, o.batch_size, o.tta);
  }
  train::ClassificationReport r =
      train::classification_report(p.truth, p.predicted, static_cast<int>(loaded.info.num_classes));

  const std::filesystem::path out = o.out;
  std::filesystem::create_directories(out);
  write_outputs(out, set, indices, p, r);
  nlohmann::json summary = {{"model", loaded.weights_file.string()},
                            {"subset", data::to_string(subset)},
                            {"split", split},
                            {"images", indices.size()},
                            {"accuracy", r.accuracy},
                            {"macro_accuracy", r.macro_accuracy},
                            {"loss", p.mean_loss},
                            {"tta_views", o.tta},
                            {"precision", o.precision}};
  nlohmann::json worst = nlohmann::json::array();
  std::printf("%zu images: accuracy %.2f%%, macro accuracy %.2f%%, loss %.4f (%s set, %s%s)\n",
              indices.size(), 100 * r.accuracy, 100 * r.macro_accuracy, p.mean_loss,
              data::to_string(subset).c_str(),
              (split == "all" ? std::string("every image") : split + " split by track").c_str(),
              o.tta > 1 ? fmt::format(", {} test-time views", o.tta).c_str() : "");
  std::printf("worst classes:\n");
  for (int c : r.worst_classes(o.worst)) {
    worst.push_back({{"class", c}, {"name", data::sign_name(c)}, {"recall", r.recall[c]},
                     {"precision", r.precision[c]}, {"support", r.support[c]}});
    std::printf("  %2d %-50s recall %6.2f%%  precision %6.2f%%  (%lld images)\n", c,
                std::string(data::sign_name(c)).c_str(), 100 * r.recall[c], 100 * r.precision[c],
                static_cast<long long>(r.support[c]));
  }
  summary["worst_classes"] = worst;
  write_text_atomically(out / "summary.json", summary.dump(2) + "\n");
  std::printf("results in %s\n", out.c_str());
}

struct QuantizeCommand {
  std::string model;
  DataOptions data;
  std::string split = "validation";
  std::string precision = "auto";
  int64_t calibration_images = 1024;
  double max_drop = 0.1;
  int64_t batch_size = 256;
};

// Scores `indices` with `predict` and returns {accuracy, images per second of inference}.
template <typename Predict>
std::pair<double, double> timed_accuracy(const Predict& predict, std::size_t images) {
  const auto start = std::chrono::steady_clock::now();
  const train::Predictions p = predict();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {p.accuracy(), static_cast<double>(images) / seconds};
}

void run_quantize(const QuantizeCommand& o) {
  train::LoadedModel loaded = train::load_model_bundle(o.model);
  FEDSIGN_CHECK(models::int8_inference_available(),
                "this LibTorch has no x86 quantized engine (oneDNN or FBGEMM): no int8 inference");
  const Scored s = load_scored(loaded, o.data, o.split);
  FEDSIGN_CHECK(!s.train.empty(),
                "quantize calibrates on the training part of a track split: give a training "
                "set and --split validation or test");
  // Calibration images from the training tracks only (never the scored split), in a seeded
  // order so that a few hundred of them cover the classes.
  data::Indices calibration = s.train;
  std::shuffle(calibration.begin(), calibration.end(), std::mt19937_64(o.data.split_seed));
  train::Int8Record record;
  record.ranges = train::calibrate_int8_on(*loaded.model, s.set, calibration, o.calibration_images);
  record.calibration_images =
      std::min<int64_t>(o.calibration_images, static_cast<int64_t>(calibration.size()));
  const models::Int8Compact int8(*loaded.model, record.ranges);

  const auto mode = train::resolve_compute_mode(o.precision, "auto");
  train::apply_memory_format(*loaded.model, mode.channels_last);
  const auto [float_accuracy, float_rate] = timed_accuracy(
      [&] { return train::predict_subset(*loaded.model, s.set, s.indices, mode, o.batch_size); },
      s.indices.size());
  const auto [int8_accuracy, int8_rate] = timed_accuracy(
      [&] { return train::predict_subset(int8, s.set, s.indices, o.batch_size); }, s.indices.size());
  record.weights_checksum = fedsign::file_checksum(loaded.weights_file);
  record.float_precision = train::describe(mode);
  record.split = s.split;
  record.images = static_cast<int64_t>(s.indices.size());
  record.float_accuracy = float_accuracy;
  record.int8_accuracy = int8_accuracy;
  const double drop = 100 * (float_accuracy - int8_accuracy);
  std::printf("%s split (%zu images; a development figure if any choice looked at it): %s %.2f%% "
              "(%.0f img/s), int8 %.2f%% (%.0f img/s, x%.2f); calibrated on %lld training images\n",
              s.split.c_str(), s.indices.size(), record.float_precision.c_str(),
              100 * float_accuracy, float_rate, 100 * int8_accuracy, int8_rate,
              int8_rate / float_rate, static_cast<long long>(record.calibration_images));
  const auto file = train::int8_ranges_file(loaded.weights_file);
  if (drop > o.max_drop) {
    std::filesystem::remove(file);  // a stale record must not outlive the check it failed
    FEDSIGN_FAIL("int8 loses {:.2f} points against {} (more than --max-drop {}): not kept",
                 drop, record.float_precision, o.max_drop);
  }
  train::save_int8_record(file, record);
  std::printf("int8 kept (%.2f points from %s): ranges in %s; use --precision int8 with "
              "evaluate, predict or serve\n",
              drop, record.float_precision.c_str(), file.c_str());
}

}  // namespace

void add_evaluate_command(CLI::App& app, Actions& actions) {
  auto o = std::make_shared<EvaluateCommand>();
  CLI::App* cmd = add_command(app, "evaluate", "Evaluate a trained model");
  cmd->add_option("model", o->model, "run directory or model .pt file")->required();
  add_data_options(*cmd, o->data);
  add_test_split_option(*cmd, o->data);
  cmd->add_option("--split", o->split,
                  "validation or test (track splits of a training set; test needs the run's "
                  "--test-fraction), all, or auto: validation for a training set, all for a "
                  "test set")
      ->check(CLI::IsMember({"auto", "validation", "test", "all"}))
      ->capture_default_str();
  cmd->add_option("--out", o->out, "output directory")->capture_default_str();
  cmd->add_option("--precision", o->precision,
                  "auto, fp32, bf16, or int8 (compact models after `fedsign quantize`)")
      ->check(CLI::IsMember({"auto", "fp32", "bf16", "int8"}))
      ->capture_default_str();
  cmd->add_option("--batch-size", o->batch_size, "images per inference batch")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  cmd->add_option("--worst", o->worst, "number of worst classes to list")->capture_default_str();
  cmd->add_option("--tta", o->tta,
                  "test-time augmentation: mean probabilities over this many views (1: none; "
                  "2-7 add a 10% zoom in, out, and 1/16 shifts)")
      ->check(CLI::Range(1, 7))
      ->capture_default_str();
  actions[cmd] = [o, cmd] {
    EvaluateCommand c = *o;
    c.data.test_if_only_test = !option_given(*cmd, "--subset");
    run(c);
  };
}

void add_quantize_command(CLI::App& app, Actions& actions) {
  auto o = std::make_shared<QuantizeCommand>();
  CLI::App* cmd = add_command(
      app, "quantize",
      "Calibrate int8 inference for a compact model on training tracks and keep it only if it "
      "scores the split within --max-drop points of the float model");
  cmd->add_option("model", o->model, "run directory or model .pt file")->required();
  add_data_options(*cmd, o->data);
  add_test_split_option(*cmd, o->data);
  cmd->add_option("--split", o->split, "validation or test: the track split both are scored on")
      ->check(CLI::IsMember({"validation", "test"}))
      ->capture_default_str();
  cmd->add_option("--precision", o->precision, "the float precision compared with: auto, fp32, bf16")
      ->check(CLI::IsMember({"auto", "fp32", "bf16"}))
      ->capture_default_str();
  cmd->add_option("--calibration-images", o->calibration_images,
                  "training images whose activations set the int8 ranges")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--max-drop", o->max_drop,
                  "largest accuracy loss in points that keeps int8 (else nothing is written)")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
  cmd->add_option("--batch-size", o->batch_size, "images per inference batch")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  actions[cmd] = [o] { run_quantize(*o); };
}

}  // namespace fedsign::cli
