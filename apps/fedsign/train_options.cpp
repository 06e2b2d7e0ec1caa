#include "train_options.h"

#include "data_options.h"

#include "fedsign/models/registry.h"

namespace fedsign::cli {

void add_train_options(CLI::App& cmd, TrainOptions& o) {
  add_model_options(cmd, o);
  add_schedule_options(cmd, o);
  add_local_training_options(cmd, o);
  add_seed_option(cmd, o.config.seed, "seed for initialization, shuffling, augmentation");
}

void add_model_options(CLI::App& cmd, TrainOptions& o) {
  auto& c = o.config;
  cmd.add_option("--model", c.model, "architecture (see `fedsign models`)")
      ->check(CLI::IsMember(models::model_names()))
      ->capture_default_str();
  cmd.add_option("--dropout", c.dropout, "dropout before the head (<0: model default)")
      ->capture_default_str();
}

void add_seed_option(CLI::App& cmd, uint64_t& seed, const std::string& help) {
  cmd.add_option("--seed", seed, help)->capture_default_str();
}

void add_schedule_options(CLI::App& cmd, TrainOptions& o) {
  auto& c = o.config;
  cmd.add_option("--epochs", c.epochs, "training epochs")->capture_default_str();
  cmd.add_option("--lr", c.optimizer.lr, "peak learning rate")->capture_default_str();
  cmd.add_option("--schedule", o.schedule, "constant, cosine, cosine-restarts, step, onecycle")
      ->check(CLI::IsMember({"constant", "cosine", "cosine-restarts", "step", "onecycle"}))
      ->capture_default_str();
  cmd.add_option("--warmup-epochs", c.warmup_epochs, "linear warm-up before the schedule")
      ->capture_default_str();
  cmd.add_option("--min-lr", c.schedule.min_lr, "eta_min of the cosine schedules")
      ->capture_default_str();
  cmd.add_option("--restart-period", c.schedule.restart_period,
                 "cosine-restarts T_0 in optimizer steps")
      ->capture_default_str();
  cmd.add_option("--restart-mult", c.schedule.restart_mult, "cosine-restarts T_mult")
      ->capture_default_str();
  cmd.add_option("--step-size", c.schedule.step_size, "step schedule: steps between decays")
      ->capture_default_str();
  cmd.add_option("--gamma", c.schedule.gamma, "step schedule: decay factor")->capture_default_str();
  cmd.add_option("--pct-start", c.schedule.pct_start, "onecycle: share of rising phase")
      ->capture_default_str();
}

void add_local_training_options(CLI::App& cmd, TrainOptions& o) {
  auto& c = o.config;
  cmd.add_option("--batch-size", c.batch_size, "images per optimizer step")->capture_default_str();
  cmd.add_option("--eval-batch-size", c.eval_batch_size)->capture_default_str();
  cmd.add_option("--optimizer", c.optimizer.name, "adam, adamw or sgd")
      ->check(CLI::IsMember({"adam", "adamw", "sgd"}))
      ->capture_default_str();
  cmd.add_option("--weight-decay", c.optimizer.weight_decay)->capture_default_str();
  cmd.add_option("--momentum", c.optimizer.momentum, "SGD momentum")->capture_default_str();
  cmd.add_option("--nesterov", c.optimizer.nesterov, "SGD Nesterov momentum (true/false)")
      ->capture_default_str();
  cmd.add_option("--label-smoothing", c.label_smoothing)->capture_default_str();
  auto& a = c.augment;
  cmd.add_flag("--no-augment", o.no_augment, "train without augmentation");
  cmd.add_option("--rotate", a.rotate_degrees, "augment: max rotation (degrees)")->capture_default_str();
  cmd.add_option("--scale", a.scale, "augment: max zoom change")->capture_default_str();
  cmd.add_option("--translate", a.translate, "augment: max shift (fraction of side)")
      ->capture_default_str();
  cmd.add_option("--shear", a.shear_degrees, "augment: max shear (degrees)")->capture_default_str();
  cmd.add_option("--perspective", a.perspective, "augment: perspective strength")
      ->capture_default_str();
  cmd.add_option("--brightness", a.brightness, "augment: brightness jitter")->capture_default_str();
  cmd.add_option("--contrast-jitter", a.contrast, "augment: contrast jitter")->capture_default_str();
  cmd.add_option("--saturation", a.saturation, "augment: saturation jitter")->capture_default_str();
  cmd.add_option("--blur", a.blur_probability, "augment: probability of mild blur")
      ->capture_default_str();
  cmd.add_option("--precision", c.precision, "auto, fp32 or bf16 (autocast)")
      ->check(CLI::IsMember({"auto", "fp32", "bf16"}))
      ->capture_default_str();
  cmd.add_option("--memory-format", c.memory_format, "auto, contiguous or channels-last")
      ->check(CLI::IsMember({"auto", "contiguous", "channels-last"}))
      ->capture_default_str();
  cmd.add_option("--sampler", c.sampler,
                 "batches: shuffle, or balanced (classes-per-batch x images-per-class)")
      ->check(CLI::IsMember({"shuffle", "balanced"}))
      ->capture_default_str();
  cmd.add_option("--classes-per-batch", c.classes_per_batch, "balanced sampler: classes per batch (P)")
      ->capture_default_str();
  cmd.add_option("--images-per-class", c.images_per_class, "balanced sampler: images per class (K)")
      ->capture_default_str();
  cmd.add_option("--contrastive-weight", c.contrastive_weight,
                 "weight of the supervised-contrastive loss on embeddings (0: off)")
      ->capture_default_str();
  cmd.add_option("--contrastive-temperature", c.contrastive_temperature,
                 "temperature of the supervised-contrastive loss")
      ->capture_default_str();
}

train::TrainConfig resolve(const TrainOptions& o, const DataOptions& data) {
  train::TrainConfig c = o.config;
  c.threads = data.threads;
  c.schedule.kind = train::parse_schedule(o.schedule);
  c.augment.enabled = !o.no_augment;
  return c;
}

}  // namespace fedsign::cli
