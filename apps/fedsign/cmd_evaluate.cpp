// `fedsign evaluate MODEL`: accuracy, macro accuracy, per-class precision/recall, confusion
// matrix (CSV + PNG), worst classes and per-image results on a dataset or its validation split.
// A test set (--subset test, or a folder that holds only one) is scored whole: its images are
// one "track" each, so the track split would keep about a fifth of them.
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "data_options.h"
#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/data/gtsrb_reader.h"
#include "fedsign/data/sign_names.h"
#include "fedsign/report/csv.h"
#include "fedsign/report/plot.h"
#include "fedsign/train/evaluate.h"
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

void run(const EvaluateCommand& o) {
  train::LoadedModel loaded = train::load_model_bundle(o.model);
  DataOptions data = o.data;
  data.size = loaded.info.input_size;  // the model decides its input
  data.contrast = loaded.info.contrast;
  data::Subset subset = data::Subset::kTrain;
  data::ImageSet set = load_dataset(data, &subset);
  const bool test_set = subset == data::Subset::kTest;
  FEDSIGN_CHECK(!(test_set && (o.split == "validation" || o.split == "test")),
                "--split {} splits a training set by track; the test set in {} is scored "
                "whole (use --split all or leave --split out)",
                o.split, data.data_dir);
  const std::string split = o.split == "auto" ? (test_set ? "all" : "validation") : o.split;
  FEDSIGN_CHECK(split != "test" || data.test_fraction > 0,
                "--split test needs the --test-fraction (and --split-seed) the run was split with");
  data::Indices indices;
  if (split == "all") {
    indices = data::all_indices(set);
  } else {
    data::TrackSplit parts = split_dataset(set, data);
    indices = split == "test" ? std::move(parts.test) : std::move(parts.validation);
  }
  FEDSIGN_CHECK(!indices.empty(), "nothing to evaluate: the {} split is empty", split);
  train::configure_threads(data.threads);
  const auto mode = train::resolve_compute_mode(o.precision, "auto");
  train::apply_memory_format(*loaded.model, mode.channels_last);
  train::Predictions p =
      train::predict_subset(*loaded.model, set, indices, mode, o.batch_size, o.tta);
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
                            {"tta_views", o.tta}};
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
  cmd->add_option("--precision", o->precision, "auto, fp32 or bf16")
      ->check(CLI::IsMember({"auto", "fp32", "bf16"}))
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

}  // namespace fedsign::cli
