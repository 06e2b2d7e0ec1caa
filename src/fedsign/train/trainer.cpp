#include "fedsign/train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <spdlog/spdlog.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/archive.h>

#include <algorithm>
#include <cstdlib>
#include <chrono>
#include <random>
#include <thread>

#include "fedsign/core/check.h"
#include "fedsign/models/layers.h"
#include "fedsign/train/augment.h"
#include "fedsign/train/balanced_sampler.h"
#include "fedsign/train/contrastive_loss.h"
#include "fedsign/train/batch.h"
#include "fedsign/train/evaluate.h"
#include "fedsign/train/optimizer.h"

namespace fedsign::train {

ScheduleConfig make_schedule(const TrainConfig& config, int64_t steps_per_epoch) {
  ScheduleConfig s = config.schedule;
  s.base_lr = config.optimizer.lr;
  s.warmup_steps = static_cast<int64_t>(config.warmup_epochs * steps_per_epoch);
  s.total_steps = std::max<int64_t>(1, config.epochs * steps_per_epoch - s.warmup_steps);
  return s;
}

int64_t steps_per_epoch(const TrainConfig& config, std::size_t examples) {
  const auto batch = static_cast<std::size_t>(
      config.sampler == "balanced" ? config.classes_per_batch * config.images_per_class
                                   : config.batch_size);
  return static_cast<int64_t>((examples + batch - 1) / std::max<std::size_t>(1, batch));
}

void configure_threads(int threads) {
  int n = threads;
  if (n <= 0) {
    // OpenMP's own variable, as LibTorch reads it: several fedsign processes sharing the cores
    // (clients on one machine, tests in parallel) must not each run a team per core, because
    // libgomp's spinning barriers then slow every process down many times over.
    const char* env = std::getenv("OMP_NUM_THREADS");
    n = env ? std::atoi(env) : 0;
  }
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  torch::set_num_threads(std::max(1, n));
}

Trainer::Trainer(std::shared_ptr<models::Classifier> model, const TrainConfig& config,
                 const ScheduleConfig& schedule)
    : model_(std::move(model)),
      config_(config),
      schedule_(schedule),
      mode_(resolve_compute_mode(config.precision, config.memory_format)) {
  apply_memory_format(*model_, mode_.channels_last);
  reset_optimizer();
}

Trainer::~Trainer() = default;

void Trainer::reset_optimizer() { optimizer_ = make_optimizer(model_->parameters(), config_.optimizer); }

double Trainer::current_learning_rate() const { return learning_rate_at(schedule_, step_); }

TrainStats Trainer::train_epoch(const data::ImageSet& set, const data::Indices& indices,
                                int64_t epoch, const TrainHooks& hooks) {
  return run(set, indices, -1, config_.seed * 1000003ULL + static_cast<uint64_t>(epoch), hooks);
}

TrainStats Trainer::train_steps(const data::ImageSet& set, const data::Indices& indices,
                                int64_t steps, uint64_t round_seed, const TrainHooks& hooks) {
  return run(set, indices, steps, config_.seed * 1000003ULL + round_seed, hooks);
}

TrainStats Trainer::run(const data::ImageSet& set, const data::Indices& indices, int64_t max_steps,
                        uint64_t seed, const TrainHooks& hooks) {
  FEDSIGN_CHECK(!indices.empty(), "training on an empty subset");
  const auto start = std::chrono::steady_clock::now();
  // Everything random in a pass derives from `seed`: shuffle, augmentation, dropout. So a
  // resumed run repeats an uninterrupted one exactly.
  std::mt19937_64 shuffle_rng(seed);
  at::Generator augment_rng = at::detail::createCPUGenerator(seed ^ 0x9e3779b97f4a7c15ULL);
  // Dropout draws from this thread's generator (models/layers.h), so that clients trained at
  // once on several threads do not share one; it draws what torch::manual_seed(seed) would.
  models::DropoutSeedScope dropout_rng(seed);

  model_->train();
  if (hooks.after_train_mode) hooks.after_train_mode(*model_);
  FEDSIGN_CHECK(config_.sampler == "shuffle" || config_.sampler == "balanced",
                "unknown sampler '{}' (shuffle or balanced)", config_.sampler);
  const auto batch = static_cast<std::size_t>(config_.batch_size);
  const bool one_pass = max_steps < 0;
  TrainStats stats;
  double loss_sum = 0.0;
  int64_t correct = 0;

  // One optimizer step on images [begin, end) of `order`.
  auto train_batch = [&](const data::Indices& order, std::size_t begin, std::size_t end) {
    auto x = augment_batch(gather_images(set, order, begin, end), config_.augment, augment_rng);
    x = normalize(x);
    if (mode_.channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
    auto y = gather_labels(set, order, begin, end);

    set_learning_rate(*optimizer_, learning_rate_at(schedule_, step_));
    optimizer_->zero_grad();
    torch::Tensor logits, embedding;
    {
      AutocastScope autocast(mode_);
      if (config_.contrastive_weight > 0) {
        embedding = model_->embed(x);
        logits = model_->classify(embedding);
      } else {
        logits = model_->forward(x);
      }
    }
    logits = logits.to(torch::kFloat32);
    auto loss = torch::nn::functional::cross_entropy(
        logits, y,
        torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(config_.label_smoothing));
    if (config_.contrastive_weight > 0) {
      loss = loss + config_.contrastive_weight *
                        supcon_loss(embedding.to(torch::kFloat32), y,
                                    config_.contrastive_temperature);
    }
    const double loss_value = loss.item<double>();
    FEDSIGN_CHECK(std::isfinite(loss_value),
                  "training diverged: loss is {} at step {} (lower --lr?)", loss_value, step_);
    loss.backward();
    if (hooks.after_backward) hooks.after_backward(*model_);
    optimizer_->step();
    if (hooks.after_step) hooks.after_step(*model_);
    ++step_;
    ++stats.steps;
    const auto n = static_cast<int64_t>(end - begin);
    stats.examples += n;
    loss_sum += loss_value * n;
    correct += logits.argmax(1).eq(y).sum().item<int64_t>();
  };

  if (config_.sampler == "balanced") {
    // P x K batches; a pass is as many batches as cover |indices| images once on average.
    BalancedBatchSampler sampler(set, indices, config_.classes_per_batch,
                                 config_.images_per_class, shuffle_rng());
    const int64_t steps = one_pass ? sampler.batches_per_epoch() : max_steps;
    for (int64_t s = 0; s < steps; ++s) {
      const data::Indices order = sampler.next_batch();
      train_batch(order, 0, order.size());
    }
  } else {
    data::Indices order = indices;
    while (one_pass ? stats.steps == 0 : stats.steps < max_steps) {
      std::shuffle(order.begin(), order.end(), shuffle_rng);
      for (std::size_t begin = 0; begin < order.size(); begin += batch) {
        if (!one_pass && stats.steps >= max_steps) break;
        const std::size_t end = std::min(order.size(), begin + batch);
        // A trailing batch of one breaks BatchNorm's statistics; skip it (as drop_last would).
        if (end - begin < 2 && order.size() >= 2) continue;
        train_batch(order, begin, end);
      }
      if (one_pass) break;
    }
  }
  stats.mean_loss = stats.examples ? loss_sum / stats.examples : 0.0;
  stats.accuracy = stats.examples ? static_cast<double>(correct) / stats.examples : 0.0;
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

void Trainer::save(torch::serialize::OutputArchive& archive) const {
  torch::serialize::OutputArchive model_archive, optimizer_archive;
  model_->save(model_archive);
  optimizer_->save(optimizer_archive);
  archive.write("model", model_archive);
  archive.write("optimizer", optimizer_archive);
  archive.write("step", c10::IValue(step_));
}

void Trainer::load(torch::serialize::InputArchive& archive) {
  torch::serialize::InputArchive model_archive, optimizer_archive;
  archive.read("model", model_archive);
  archive.read("optimizer", optimizer_archive);
  model_->load(model_archive);
  apply_memory_format(*model_, mode_.channels_last);
  optimizer_->load(optimizer_archive);
  c10::IValue step;
  archive.read("step", step);
  step_ = step.toInt();
}

}  // namespace fedsign::train
