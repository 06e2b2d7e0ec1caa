// `fedsign train`: centralized training with a track-disjoint validation split.
#include <spdlog/spdlog.h>

#include <fstream>

#include "commands.h"
#include "data_options.h"
#include "fedsign/core/atomic_file.h"
#include "fedsign/models/weights.h"
#include "fedsign/train/fit.h"
#include "fedsign/train/model_bundle.h"
#include "train_options.h"

namespace fedsign::cli {

namespace {
struct TrainCommand {
  DataOptions data;
  TrainOptions train;
  std::string out = "runs/train";
  bool resume = false;
  std::string init_weights;
  std::string fine_tune = "full";
  int fine_tune_groups = 2;
  double weight_ema = 0.0;
};

std::vector<std::string> trainable_groups(const TrainCommand& o) {
  if (o.fine_tune == "full") return {"all"};
  if (o.fine_tune == "head") return {"head"};
  // partial: resolved against the model's groups inside fit via a marker.
  return {"last:" + std::to_string(o.fine_tune_groups)};
}

void run(const CLI::App& command, const TrainCommand& o) {
  const train::TrainConfig config = resolve(o.train, o.data);
  data::ImageSet set = load_dataset(o.data);
  const data::TrackSplit split = split_dataset(set, o.data);

  const std::filesystem::path run_dir = o.out;
  std::filesystem::create_directories(run_dir);
  // The snapshot is a valid --config file: `fedsign train --config RUN/config.toml` repeats it.
  write_text_atomically(run_dir / "config.toml", command.config_to_str(true, false));
  train::save_model_info(run_dir / "model.json",
                         {config.model, 43, set.height, o.data.contrast});

  train::RunOptions run;
  run.run_dir = run_dir;
  run.resume = o.resume;
  run.init_weights = o.init_weights;
  run.trainable_groups = trainable_groups(o);
  run.weight_ema = o.weight_ema;
  // Without a validation split (--val-fraction 0: the final model of a recipe chosen before,
  // trained on train + validation) there is nothing to select on: model.pt is the last epoch.
  const bool validated = !split.validation.empty();
  train::FitResult result = train::fit(set, split, config, run, [&](const train::EpochRecord& r) {
    std::string val = validated ? fmt::format("val loss {:.4f} acc {:6.2f}%", r.val_loss,
                                              100 * r.val_accuracy)
                                : "no validation";
    if (o.weight_ema > 0) val += fmt::format(" (weight EMA {:6.2f}%)", 100 * r.ema_val_accuracy);
    spdlog::info("epoch {:3}/{}  lr {:.2e}  train loss {:.4f} acc {:6.2f}%  {}  {:5.1f}s ({:.0f} img/s)",
                 r.epoch, config.epochs, r.lr, r.train_loss, 100 * r.train_accuracy, val,
                 r.seconds, r.images_per_second);
  });
  const auto& last = result.history.back();
  const double last_val = o.weight_ema > 0 ? last.ema_val_accuracy : last.val_accuracy;
  std::string summary, done;
  if (validated) {
    summary = fmt::format(
        "# Training run\n\n"
        "| | |\n|---|---|\n"
        "| model | {} |\n| images | {} train / {} validation / {} test (split by track) |\n"
        "| epochs | {} |\n| best validation accuracy | {:.2f}% (epoch {}) |\n"
        "| last validation accuracy | {:.2f}% |\n| training time | {:.1f} s |\n",
        config.model, split.train.size(), split.validation.size(), split.test.size(),
        config.epochs, 100 * result.best_val_accuracy, result.best_epoch,
        100 * last_val, result.train_seconds);
    done = fmt::format("best validation accuracy {:.2f}% (epoch {}), last {:.2f}%",
                       100 * result.best_val_accuracy, result.best_epoch, 100 * last_val);
    if (o.weight_ema > 0) {
      // The rows above are the selected weight average's; the trained weights' beside them.
      summary += fmt::format(
          "| weights | exponential moving average, decay {} (model.pt) |\n"
          "| trained weights' best validation accuracy | {:.2f}% (epoch {}, model_raw.pt) |\n",
          o.weight_ema, 100 * result.raw_best_val_accuracy, result.raw_best_epoch);
      done = fmt::format("weight EMA: {}; trained weights: best {:.2f}% (epoch {})", done,
                         100 * result.raw_best_val_accuracy, result.raw_best_epoch);
    }
  } else {
    summary = fmt::format(
        "# Training run\n\n| | |\n|---|---|\n| model | {} |\n"
        "| images | {} train / no validation / {} test (split by track) |\n"
        "| epochs | {} (model.pt: the last) |\n| training time | {:.1f} s |\n",
        config.model, split.train.size(), split.test.size(), config.epochs, result.train_seconds);
    done = fmt::format("{} epochs without a validation split (model.pt: the last)", config.epochs);
  }
  write_text_atomically(run_dir / "summary.md", summary);
  std::printf("%s, %.1f s; run in %s\n", done.c_str(), result.train_seconds, run_dir.c_str());
  // The selected model (model.pt) meets the test split once, after every choice was made.
  report_test_split(run_dir, set, split.test, config.precision, config.eval_batch_size);
}
}  // namespace

void add_train_command(CLI::App& app, Actions& actions) {
  auto options = std::make_shared<TrainCommand>();
  CLI::App* cmd = add_command(app, "train", "Train a classifier (centralized)");
  add_data_options(*cmd, options->data);
  add_test_split_option(*cmd, options->data);
  add_train_options(*cmd, options->train);
  cmd->add_option("--out", options->out, "run directory")->capture_default_str();
  cmd->add_flag("--resume", options->resume, "continue from OUT/last.ckpt");
  cmd->add_option("--init-weights", options->init_weights,
                  "start from these weights (fedsign or torchvision export)");
  cmd->add_option("--fine-tune", options->fine_tune, "full, partial (last groups) or head")
      ->check(CLI::IsMember({"full", "partial", "head"}))
      ->capture_default_str();
  cmd->add_option("--fine-tune-groups", options->fine_tune_groups,
                  "partial fine-tuning: number of last layer groups to train")
      ->capture_default_str();
  cmd->add_option("--weight-ema", options->weight_ema,
                  "decay of an exponential moving average of the weights (e.g. 0.999; 0: off): "
                  "model.pt is the best average on validation, model_raw.pt the trained weights'")
      ->check(CLI::Range(0.0, 0.99999))
      ->capture_default_str();
  actions[cmd] = [cmd, options] { run(*cmd, *options); };
}

}  // namespace fedsign::cli
