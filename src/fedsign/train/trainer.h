// The training step, shared by centralized training (fit) and federated clients.
//
// A Trainer owns an optimizer for one model and runs epochs or a fixed number of steps over any
// subset of an ImageSet (a client's data is just an index vector). Hooks let federated
// algorithms adjust gradients (FedProx's proximal term, SCAFFOLD's control variates) without the
// trainer knowing about them. Not thread-safe; one Trainer per model.
#pragma once

#include <functional>
#include <memory>

#include "fedsign/data/image_set.h"
#include "fedsign/models/classifier.h"
#include "fedsign/train/precision.h"
#include "fedsign/train/train_config.h"

namespace torch::optim {
class Optimizer;
}
namespace torch::serialize {
class OutputArchive;
class InputArchive;
}  // namespace torch::serialize

namespace fedsign::train {

struct TrainStats {
  int64_t examples = 0;
  int64_t steps = 0;
  double mean_loss = 0.0;
  double accuracy = 0.0;
  double seconds = 0.0;
};

struct TrainHooks {
  // Called once per pass, right after the model is put in training mode (e.g. to keep frozen
  // layers' BatchNorm statistics fixed: models::hold_frozen_statistics).
  std::function<void(models::Classifier&)> after_train_mode;
  // Called after loss.backward() and before optimizer.step(), with the model's gradients set.
  std::function<void(models::Classifier&)> after_backward;
  // Called after each optimizer.step() (e.g. to fold the new weights into a weight EMA).
  std::function<void(models::Classifier&)> after_step;
};

class Trainer {
 public:
  // `schedule` is used as given (base_lr, total_steps...); see make_schedule().
  Trainer(std::shared_ptr<models::Classifier> model, const TrainConfig& config,
          const ScheduleConfig& schedule);
  ~Trainer();

  // One shuffled pass over `indices` (shuffle seeded by config.seed and `epoch`).
  TrainStats train_epoch(const data::ImageSet& set, const data::Indices& indices, int64_t epoch,
                         const TrainHooks& hooks = {});

  // Exactly `steps` optimizer steps over reshuffled passes of `indices` (federated stragglers and
  // step-based local training). `round_seed` varies the shuffle and augmentation.
  TrainStats train_steps(const data::ImageSet& set, const data::Indices& indices, int64_t steps,
                         uint64_t round_seed, const TrainHooks& hooks = {});

  // Fresh optimizer state (federated clients start each round from scratch), step counter kept.
  void reset_optimizer();

  models::Classifier& model() { return *model_; }
  std::shared_ptr<models::Classifier> model_ptr() { return model_; }
  torch::optim::Optimizer& optimizer() { return *optimizer_; }
  const ComputeMode& compute_mode() const { return mode_; }
  int64_t step() const { return step_; }
  double current_learning_rate() const;

  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

 private:
  TrainStats run(const data::ImageSet& set, const data::Indices& order, int64_t max_steps,
                 uint64_t seed, const TrainHooks& hooks);

  std::shared_ptr<models::Classifier> model_;
  TrainConfig config_;
  ScheduleConfig schedule_;
  ComputeMode mode_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  int64_t step_ = 0;
};

// Optimizer steps of one train_epoch over `examples` images: ceil(examples / batch) with
// batch = batch_size, or classes_per_batch x images_per_class for the balanced sampler.
int64_t steps_per_epoch(const TrainConfig& config, std::size_t examples);

// The schedule of a run of `epochs` x `steps_per_epoch` with config.warmup_epochs of warm-up.
ScheduleConfig make_schedule(const TrainConfig& config, int64_t steps_per_epoch);

// Sets torch's thread count once per process (0: $OMP_NUM_THREADS if set, else all cores).
void configure_threads(int threads);

}  // namespace fedsign::train
