// `fedsign rare`: the rare-sign protocol (withhold the real images of rare classes, learn them
// from rendered pictograms); see src/fedsign/experiments/rare.h and docs/rare.md.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>

#include "commands.h"
#include "data_options.h"
#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/experiments/rare.h"
#include "train_options.h"

namespace fedsign::cli {

namespace {
struct RareCommand {
  DataOptions data;
  TrainOptions train;
  std::string out = "runs/rare";
  std::vector<int> rare_classes;
  int rare_count = 10;
  std::string meta;
  std::string backgrounds;
  std::string synth_dir;  // default OUT/synth
  int synth_per_class = 300;
  std::string synth_classes = "all";
  std::string synth_size = "20-80";
  uint64_t synth_seed = 1;
  double mix_ratio = 0.5;
  int64_t pretrain_epochs = 6;
  bool pretrain_synthetic = false;
  std::string fine_tune = "full";
  int fine_tune_groups = 2;
  double fine_tune_lr = 0;
  std::vector<std::string> variants = {"no-synthetic", "synthetic", "synthetic-supcon"};
  double appearance = 1.0;
  double occlusion = 0.15;
};

void run(const CLI::App& command, const RareCommand& o) {
  train::TrainConfig train = resolve(o.train, o.data);
  experiments::RareConfig c;
  c.rare_classes = o.rare_classes;
  c.rare_count = o.rare_count;
  c.meta_dir = o.meta.empty() ? o.data.data_dir : o.meta;
  c.backgrounds = o.backgrounds;
  c.synth_dir = o.synth_dir.empty() ? std::filesystem::path(o.out) / "synth"
                                    : std::filesystem::path(o.synth_dir);
  c.synth_per_class = o.synth_per_class;
  c.synth_classes = o.synth_classes;
  c.synth_seed = o.synth_seed;
  c.synth_threads = o.data.threads;
  const auto dash = o.synth_size.find('-');
  FEDSIGN_CHECK(dash != std::string::npos, "--synth-size: expected MIN-MAX, got '{}'", o.synth_size);
  c.synth.min_sign_size = std::stoi(o.synth_size.substr(0, dash));
  c.synth.max_sign_size = std::stoi(o.synth_size.substr(dash + 1));
  c.synth.appearance_strength = o.appearance;
  c.synth.occlusion_probability = o.occlusion;
  c.load = to_load_options(o.data);
  c.pretrain_epochs = o.pretrain_epochs;
  c.epochs = train.epochs;
  c.mix_ratio = o.mix_ratio;
  c.pretrain_synthetic = o.pretrain_synthetic;
  c.fine_tune = o.fine_tune;
  c.fine_tune_groups = o.fine_tune_groups;
  c.fine_tune_lr = o.fine_tune_lr;
  c.variants = o.variants;
  // The sampler / contrastive options configure the synthetic-supcon variant only.
  c.classes_per_batch = train.classes_per_batch;
  c.images_per_class = train.images_per_class;
  c.contrastive_weight = train.contrastive_weight;
  c.contrastive_temperature = train.contrastive_temperature;
  train.sampler = "shuffle";
  train.contrastive_weight = 0;
  c.train = train;

  const std::filesystem::path run_dir = o.out;
  std::filesystem::create_directories(run_dir);
  write_text_atomically(run_dir / "config.toml", command.config_to_str(true, false));

  data::ImageSet real = load_dataset(o.data);
  const data::TrackSplit split = split_dataset(real, o.data);
  const experiments::RareResult result = experiments::run_rare_protocol(real, split, c, run_dir);
  experiments::write_rare_report(run_dir, result,
                                 "fedsign rare --config " + (run_dir / "config.toml").string());
  const bool with_test = !split.test.empty();
  std::printf("%-18s %8s %8s %8s%s\n", "variant", "all", "rare", "frequent",
              with_test ? "   test: all     rare frequent" : "");
  for (const auto& v : result.variants) {
    std::printf("%-18s %7.2f%% %7.2f%% %7.2f%%", v.name.c_str(), 100 * v.accuracy.all,
                100 * v.accuracy.rare, 100 * v.accuracy.frequent);
    if (with_test) {
      std::printf("      %7.2f%% %7.2f%% %7.2f%%", 100 * v.test.all, 100 * v.test.rare,
                  100 * v.test.frequent);
    }
    std::printf("\n");
  }
  if (with_test) {
    std::printf("test split (untouched, %zu images, read once per variant)\n", split.test.size());
  }
  if (result.synth_images_per_minute > 0) {
    std::printf("synthetic: %zu images rendered at %.0f images/min\n", result.synthetic_images,
                result.synth_images_per_minute);
  }
  std::printf("report: %s\n", result.report_md.c_str());
}
}  // namespace

void add_rare_command(CLI::App& app, Actions& actions) {
  auto o = std::make_shared<RareCommand>();
  o->train.config.epochs = 6;
  o->train.config.contrastive_weight = 0.2;
  CLI::App* cmd = add_command(app, "rare",
                              "Rare-sign protocol: withhold rare classes' real images, learn them "
                              "from synthetic pictogram renderings, report all/rare/frequent accuracy");
  add_data_options(*cmd, o->data);
  add_test_split_option(*cmd, o->data);
  add_train_options(*cmd, o->train);  // --epochs = fine-tuning epochs per variant
  cmd->add_option("--out", o->out, "run directory")->capture_default_str();
  cmd->add_option("--rare-count", o->rare_count, "the K rarest classes by training count")
      ->capture_default_str();
  cmd->add_option("--rare-classes", o->rare_classes, "explicit rare classes (overrides --rare-count)")
      ->delimiter(',');
  cmd->add_option("--meta", o->meta, "pictogram folder (default: Meta/ under --data)");
  cmd->add_option("--backgrounds", o->backgrounds, "background photos (default: procedural)");
  cmd->add_option("--synth-dir", o->synth_dir,
                  "where synthetic images are rendered, reused when the request matches "
                  "(default OUT/synth)");
  cmd->add_option("--synth-per-class", o->synth_per_class, "synthetic images per class")
      ->capture_default_str();
  cmd->add_option("--synth-classes", o->synth_classes, "render all classes or rare only")
      ->check(CLI::IsMember({"all", "rare"}))
      ->capture_default_str();
  cmd->add_option("--synth-size", o->synth_size, "synthetic sign side range (px), MIN-MAX")
      ->capture_default_str();
  cmd->add_option("--synth-seed", o->synth_seed)->capture_default_str();
  cmd->add_option("--synth-appearance", o->appearance, "fading/dirt/colour-cast strength")
      ->capture_default_str();
  cmd->add_option("--synth-occlusion", o->occlusion, "probability of partial occlusion")
      ->capture_default_str();
  cmd->add_option("--mix-ratio", o->mix_ratio, "synthetic images per real image when fine-tuning")
      ->capture_default_str();
  cmd->add_option("--pretrain-epochs", o->pretrain_epochs, "epochs on the real frequent classes")
      ->capture_default_str();
  cmd->add_flag("--pretrain-synthetic", o->pretrain_synthetic,
                "mix synthetic images into pretraining too");
  cmd->add_option("--fine-tune", o->fine_tune, "full, partial (last groups + head) or head")
      ->check(CLI::IsMember({"full", "partial", "head"}))
      ->capture_default_str();
  cmd->add_option("--fine-tune-groups", o->fine_tune_groups, "partial: last N layer groups")
      ->capture_default_str();
  cmd->add_option("--fine-tune-lr", o->fine_tune_lr, "fine-tuning peak LR (0: --lr)")
      ->capture_default_str();
  cmd->add_option("--variants", o->variants,
                  "no-synthetic, synthetic, synthetic-supcon, scratch")
      ->delimiter(',')
      ->capture_default_str();
  actions[cmd] = [cmd, o] { run(*cmd, *o); };
}

}  // namespace fedsign::cli
