#include "fedsign/net/round_adapter.h"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "fedsign/core/check.h"
#include "fedsign/net/validate.h"

namespace fedsign::net {

class DispatchingStrategy::Forwarding : public fl::FitAggregation {
 public:
  explicit Forwarding(DispatchingStrategy& owner) : owner_(owner) {}
  void add(fl::FitResult /*placeholder*/) override {}  // folded on arrival (fold())
  fl::AggregateFitResult finish(const std::vector<fl::Failure>& failures) override {
    std::lock_guard lock(owner_.mutex_);
    FEDSIGN_CHECK(owner_.aggregation_ != nullptr, "no open aggregation");
    if (owner_.folded_ < owner_.min_results_) {
      spdlog::warn("only {} of the required {} updates arrived: keeping the global model",
                   owner_.folded_, owner_.min_results_);
      owner_.aggregation_.reset();
      owner_.aggregating_round_ = -1;
      fl::AggregateFitResult kept;
      kept.weights = owner_.global_;
      kept.metrics["num_results"] = static_cast<double>(owner_.folded_);
      kept.metrics["num_failures"] = static_cast<double>(failures.size());
      return kept;
    }
    fl::AggregateFitResult out = owner_.aggregation_->finish(failures);
    owner_.aggregation_.reset();
    owner_.aggregating_round_ = -1;
    // Validated updates average to finite weights, but a strategy's own state (FedAdam moments,
    // server momentum) could still overflow: never checkpoint or send a broken model.
    if (Status s = check_finite(out.weights, "new global model"); !s.ok()) {
      spdlog::error("{}: keeping the previous global model", s.message);
      out.weights = owner_.global_;
      out.metrics["non_finite_aggregate"] = 1;
    }
    return out;
  }

 private:
  DispatchingStrategy& owner_;
};

DispatchingStrategy::DispatchingStrategy(fl::Strategy& inner, Coordinator& coordinator,
                                         std::chrono::milliseconds round_deadline)
    : inner_(inner), coordinator_(coordinator), round_deadline_(round_deadline) {}

std::shared_ptr<Task> DispatchingStrategy::make_task(TaskKind kind, fl::ClientId client,
                                                     int64_t round, int64_t version,
                                                     const fl::Config& config,
                                                     std::shared_ptr<const Blob> blob) {
  auto task = std::make_shared<Task>();
  task->id = fmt::format("r{}-{}-c{}-{}", round, to_string(kind), client, ++task_counter_);
  task->kind = kind;
  task->client = client;
  task->round = round;
  task->model_version = version;
  task->config = config;
  task->blob = std::move(blob);
  task->layout = layout_;
  task->control_layout = control_layout_;
  task->deadline = Clock::now() + round_deadline_;
  task->deadline_unix_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          (std::chrono::system_clock::now() + round_deadline_).time_since_epoch())
          .count();
  return task;
}

std::vector<fl::FitInstruction> DispatchingStrategy::configure_fit(
    int64_t round, const fl::Weights& global, const fl::ClientManager& clients) {
  std::vector<fl::FitInstruction> instructions = inner_.configure_fit(round, global, clients);
  {
    std::lock_guard lock(mutex_);
    aggregation_ = inner_.begin_aggregate_fit(round, global);
    aggregating_round_ = round;
    max_train_seconds_ = 0;
    folded_ = 0;
  }
  global_ = global;
  layout_ = std::make_shared<const fl::Weights>(global);
  fit_tasks_.clear();
  // Instructions usually share one FitIns (same tensors): encode each distinct one once.
  std::shared_ptr<const Blob> blob;
  const void* blob_key = nullptr;
  for (const auto& instruction : instructions) {
    const fl::FitIns& ins = instruction.ins;
    const void* key = ins.weights.empty() ? nullptr : ins.weights.tensors.front().data_ptr();
    if (!blob || key != blob_key) {
      WeightGroups groups{{kWeightsGroup, ins.weights}};
      if (ins.control) groups[kControlGroup] = *ins.control;
      blob = std::make_shared<const Blob>(encode(groups));
      blob_key = key;
      control_layout_ = std::make_shared<const std::optional<fl::Weights>>(ins.control);
      layout_ = std::make_shared<const fl::Weights>(ins.weights);
    }
    auto task = make_task(TaskKind::kFit, instruction.client_id, round, round - 1, ins.config, blob);
    fit_tasks_[instruction.client_id] = task;
    coordinator_.post(task);
  }
  return instructions;
}

std::unique_ptr<fl::FitAggregation> DispatchingStrategy::begin_aggregate_fit(
    int64_t /*round*/, const fl::Weights& /*global*/) {
  return std::make_unique<Forwarding>(*this);
}

std::vector<fl::EvaluateInstruction> DispatchingStrategy::configure_evaluate(
    int64_t round, const fl::Weights& global, const fl::ClientManager& clients) {
  std::vector<fl::EvaluateInstruction> instructions =
      inner_.configure_evaluate(round, global, clients);
  evaluate_tasks_.clear();
  std::shared_ptr<const Blob> blob;
  for (const auto& instruction : instructions) {
    if (!blob) blob = std::make_shared<const Blob>(encode({{kWeightsGroup, instruction.ins.weights}}));
    auto task = make_task(TaskKind::kEvaluate, instruction.client_id, round, round,
                          instruction.ins.config, blob);
    evaluate_tasks_[instruction.client_id] = task;
    coordinator_.post(task);
  }
  return instructions;
}

Status DispatchingStrategy::fold(const std::shared_ptr<Task>& task, fl::FitResult result) {
  std::lock_guard lock(mutex_);
  if (!aggregation_ || task->kind != TaskKind::kFit || task->round != aggregating_round_) {
    return {Code::kFailedPrecondition,
            fmt::format("round {} is not aggregating (late update)", task->round)};
  }
  // Under mutex_: finish() cannot run between the check and add(), and a task failed by its
  // deadline cannot be added any more.
  if (!coordinator_.commit(task)) {
    return {Code::kDeadlineExceeded,
            fmt::format("task {} already closed (upload deadline passed or failed)", task->id)};
  }
  result.client_id = task->client;
  auto it = result.metrics.find("train_seconds");
  if (it != result.metrics.end()) max_train_seconds_ = std::max(max_train_seconds_, it->second);
  try {
    aggregation_->add(std::move(result));
    ++folded_;
  } catch (const std::exception& e) {
    return {Code::kInvalidArgument, e.what()};
  }
  return Status::Ok();
}

std::shared_ptr<Task> DispatchingStrategy::task_for(fl::ClientId client, TaskKind kind) {
  auto& tasks = kind == TaskKind::kFit ? fit_tasks_ : evaluate_tasks_;
  auto it = tasks.find(client);
  return it == tasks.end() ? nullptr : it->second;
}

double DispatchingStrategy::max_train_seconds() const {
  std::lock_guard lock(mutex_);
  return max_train_seconds_;
}

fl::ClientFactory DispatchingStrategy::client_factory() {
  return [this](fl::ClientId id) { return std::make_unique<RemoteClient>(*this, id); };
}

fl::FitResult RemoteClient::fit(const fl::FitIns& /*ins*/) {
  std::shared_ptr<Task> task = strategy_.task_for(id_, TaskKind::kFit);
  if (!task) throw std::runtime_error("no task was sent");
  if (strategy_.coordinator().wait(task) != Task::State::kDone) {
    throw std::runtime_error(fmt::format("client '{}': {}", strategy_.coordinator().name_of(id_),
                                         task->error));
  }
  fl::FitResult placeholder;  // the update itself was folded on arrival
  placeholder.client_id = id_;
  placeholder.num_examples = task->num_examples;
  placeholder.metrics = task->metrics;
  return placeholder;
}

fl::EvaluateResult RemoteClient::evaluate(const fl::EvaluateIns& /*ins*/) {
  std::shared_ptr<Task> task = strategy_.task_for(id_, TaskKind::kEvaluate);
  if (!task) throw std::runtime_error("no task was sent");
  if (strategy_.coordinator().wait(task) != Task::State::kDone) {
    throw std::runtime_error(fmt::format("client '{}': {}", strategy_.coordinator().name_of(id_),
                                         task->error));
  }
  fl::EvaluateResult result;
  result.client_id = id_;
  result.num_examples = task->num_examples;
  result.loss = task->loss;
  result.metrics = task->metrics;
  return result;
}

}  // namespace fedsign::net
