#include "fedsign/net/round_adapter.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <set>
#include <stdexcept>

#include "fedsign/core/check.h"
#include "fedsign/fl/privacy/dp_fedavg.h"
#include "fedsign/fl/compress/quantize.h"
#include "fedsign/fl/privacy/secagg_update.h"
#include "fedsign/fl/update.h"
#include "fedsign/net/upload_codec.h"
#include "fedsign/net/validate.h"

namespace fedsign::net {

class DispatchingStrategy::Forwarding : public fl::FitAggregation {
 public:
  explicit Forwarding(DispatchingStrategy& owner) : owner_(owner) {}
  void add(fl::FitResult /*placeholder*/) override {}  // folded on arrival (fold())
  fl::AggregateFitResult finish(const std::vector<fl::Failure>& failures) override {
    if (owner_.secagg()) return finish_secure(failures);
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
    const int64_t round = owner_.aggregating_round_;
    fl::AggregateFitResult out =
        finite_or_kept(owner_.aggregation_->finish(failures), owner_.global_);
    owner_.aggregation_.reset();
    owner_.aggregating_round_ = -1;
    if (!out.metrics.contains(kNonFiniteAggregate)) owner_.note_taken_locked(round);
    return out;
  }

 private:
  // The survivors' unmasked sum through DP-FedAvg (the aggregation opened for the round saw
  // no update). Waits for the unmasking step without holding the owner's mutex.
  fl::AggregateFitResult finish_secure(const std::vector<fl::Failure>& failures) {
    std::shared_ptr<SecAggRound> round;
    fl::Weights global;
    fl::Metrics metrics;
    {
      std::lock_guard lock(owner_.mutex_);
      round = owner_.secagg_;
      global = owner_.global_;
      metrics = owner_.secagg_metrics_.mean();
      owner_.aggregation_.reset();  // masked updates are refused from here on
      owner_.aggregating_round_ = -1;
    }
    FEDSIGN_CHECK(round != nullptr, "no open secure aggregation round");
    fl::AggregateFitResult kept;
    kept.weights = global;
    kept.metrics["num_failures"] = static_cast<double>(failures.size());
    std::vector<uint32_t> sum;
    try {
      sum = round->finish();
    } catch (const std::exception& e) {
      spdlog::warn("{}: keeping the global model", e.what());
      kept.metrics["num_results"] = 0;
      kept.metrics["secagg_failed"] = 1;
      return kept;
    }
    const int64_t survivors = round->survivor_count();
    int64_t unclipped = 0;
    const fl::Weights delta_sum =
        fl::privacy::decode_secagg_sum(global, sum, *owner_.secagg_codec_, &unclipped);
    auto& dp = dynamic_cast<fl::privacy::DpFedAvg&>(owner_.inner_);
    fl::AggregateFitResult out = dp.aggregate_sum(round->round(), global, delta_sum, survivors,
                                                  unclipped, metrics, failures);
    out.metrics["secagg_survivors"] = static_cast<double>(survivors);
    spdlog::info("secure aggregation, round {}: the sum of {} masked updates recovered "
                 "(threshold {})", round->round(), survivors, round->threshold());
    out = finite_or_kept(std::move(out), global);
    // The masked inputs that arrived are the survivors whose sum was recovered.
    if (!out.metrics.contains(kNonFiniteAggregate)) {
      std::lock_guard lock(owner_.mutex_);
      owner_.note_taken_locked(round->round());
    }
    return out;
  }

  // Validated updates average to finite weights, but a strategy's own state (FedAdam moments,
  // server momentum) could still overflow: never checkpoint or send a broken model.
  static fl::AggregateFitResult finite_or_kept(fl::AggregateFitResult out,
                                               const fl::Weights& global) {
    if (Status s = check_finite(out.weights, "new global model"); !s.ok()) {
      spdlog::error("{}: keeping the previous global model", s.message);
      out.weights = global;
      out.metrics[kNonFiniteAggregate] = 1;
    }
    return out;
  }
  static constexpr const char* kNonFiniteAggregate = "non_finite_aggregate";

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
  if (kind == TaskKind::kFit && taken_rounds_known_) {
    const auto it = taken_rounds_.find(client);
    task->last_taken_round = it == taken_rounds_.end() ? 0 : it->second;
  }
  task->config = config;
  task->blob = std::move(blob);
  task->layout = layout_;
  task->layout_norm = layout_norm_;
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
  for (auto& instruction : instructions) request_upload_codec(upload_codec_, instruction.ins.config);
  std::shared_ptr<SecAggRound> secure;
  std::optional<fl::privacy::FixedPointCodec> codec;
  if (secagg_settings_ && !instructions.empty()) {
    // Every sampled client gets the same protocol parameters: threshold, summands and the
    // fixed-point bound (the DP clip plus 6 stddevs of the client's noise).
    const auto m = static_cast<int64_t>(instructions.size());
    // t >= 2: a "sum" of one survivor would be that client's update.
    FEDSIGN_CHECK(m >= 2, "secure aggregation needs at least 2 clients per round, {} sampled", m);
    const auto t = std::min<int64_t>(
        m, std::max<int64_t>(2, static_cast<int64_t>(std::floor(
                                    secagg_settings_->threshold * static_cast<double>(m))) + 1));
    // DpFedAvg (distributed, checked by enable_secagg) sets both keys in every fit config.
    const fl::Config& config = instructions.front().ins.config;
    const double bound = fl::privacy::secagg_bound(
        fl::get_double(config, fl::privacy::dp_keys::kClip, std::nan("")),
        fl::get_double(config, fl::privacy::dp_keys::kClientNoise, 0.0));
    std::set<fl::ClientId> sampled;
    for (auto& instruction : instructions) {
      instruction.ins.config[fl::privacy::secagg_keys::kThreshold] = t;
      instruction.ins.config[fl::privacy::secagg_keys::kClients] = m;
      instruction.ins.config[fl::privacy::secagg_keys::kBound] = bound;
      sampled.insert(instruction.client_id);
    }
    codec = fl::privacy::secagg_codec(instructions.front().ins.config);
    secure = std::make_shared<SecAggRound>(round, std::move(sampled), t,
                                           fl::privacy::secagg_input_length(global),
                                           secagg_settings_->step_timeout);
  }
  {
    std::lock_guard lock(mutex_);
    aggregation_ = inner_.begin_aggregate_fit(round, global);
    aggregating_round_ = round;
    max_train_seconds_ = 0;
    folded_ = 0;
    folded_clients_.clear();
    secagg_ = std::move(secure);
    secagg_codec_ = std::move(codec);
    secagg_metrics_ = fl::MetricsMean();
  }
  global_ = global;
  layout_ = std::make_shared<const fl::Weights>(global);
  layout_norm_ = -1;
  fit_tasks_.clear();
  // Instructions usually share one FitIns (same tensors): encode each distinct one once.
  std::shared_ptr<const Blob> blob;
  const void* blob_key = nullptr;
  for (const auto& instruction : instructions) {
    const fl::FitIns& ins = instruction.ins;
    const void* key = ins.weights.empty() ? nullptr : ins.weights.tensors.front().data_ptr();
    if (!blob || key != blob_key) {
      WeightGroups groups{{kWeightsGroup, download_form(ins.weights)}};
      if (ins.control) groups[kControlGroup] = *ins.control;
      blob = std::make_shared<const Blob>(encode(groups));
      blob_key = key;
      control_layout_ = std::make_shared<const std::optional<fl::Weights>>(ins.control);
      layout_ = std::make_shared<const fl::Weights>(ins.weights);
      layout_norm_ = fl::l2_norm(ins.weights);  // for the uploads' norm bound, once
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
    if (!blob) {
      blob = std::make_shared<const Blob>(encode({{kWeightsGroup, download_form(instruction.ins.weights)}}));
    }
    auto task = make_task(TaskKind::kEvaluate, instruction.client_id, round, round,
                          instruction.ins.config, blob);
    evaluate_tasks_[instruction.client_id] = task;
    coordinator_.post(task);
  }
  return instructions;
}

Status DispatchingStrategy::admit_locked(const std::shared_ptr<Task>& task, bool masked,
                                         const fl::Metrics& metrics) {
  if (!aggregation_ || task->kind != TaskKind::kFit || task->round != aggregating_round_) {
    return {Code::kFailedPrecondition,
            fmt::format("round {} is not aggregating (late update)", task->round)};
  }
  if (masked != (secagg_ != nullptr)) {
    return {Code::kInvalidArgument, secagg_ ? "this round uses secure aggregation: a plain "
                                              "update is refused"
                                            : "this round does not use secure aggregation"};
  }
  // Under mutex_: finish() cannot run between the check and the fold, and a task failed by its
  // deadline cannot be folded any more.
  if (!coordinator_.commit(task)) {
    return {Code::kFailedPrecondition,
            fmt::format("task {} already closed (upload deadline passed or failed)", task->id)};
  }
  auto it = metrics.find("train_seconds");
  if (it != metrics.end()) max_train_seconds_ = std::max(max_train_seconds_, it->second);
  return Status::Ok();
}

Status DispatchingStrategy::fold(const std::shared_ptr<Task>& task, fl::FitResult result) {
  std::lock_guard lock(mutex_);
  if (Status s = admit_locked(task, /*masked=*/false, result.metrics); !s.ok()) return s;
  result.client_id = task->client;
  try {
    aggregation_->add(std::move(result));
    ++folded_;
    folded_clients_.push_back(task->client);
  } catch (const std::exception& e) {
    return {Code::kInvalidArgument, e.what()};
  }
  return Status::Ok();
}

fl::Weights DispatchingStrategy::download_form(const fl::Weights& weights) const {
  return bf16_downloads_ ? fl::compress::to_bf16(weights) : weights;
}

void DispatchingStrategy::set_upload_codec(const fl::compress::CompressOptions& options) {
  fl::Config probe;
  request_upload_codec(options, probe);  // validates
  FEDSIGN_CHECK(options.codec == "none" || !secagg_settings_,
                "--compress {} with --secagg: a masked update cannot be compressed (choose one)",
                options.codec);
  upload_codec_ = options;
}

void DispatchingStrategy::enable_secagg(const SecAggSettings& settings) {
  FEDSIGN_CHECK(upload_codec_.codec == "none",
                "--secagg with --compress {}: a masked update cannot be compressed (choose one)",
                upload_codec_.codec);
  const auto* dp = dynamic_cast<const fl::privacy::DpFedAvg*>(&inner_);
  FEDSIGN_CHECK(dp != nullptr && dp->options().mode == fl::privacy::DpMode::kDistributed,
                "secure aggregation needs --dp distributed: the clients must clip (and noise) "
                "their updates, since the server only ever sees their sum (use "
                "--dp-noise-multiplier 0 for clipping without noise)");
  FEDSIGN_CHECK(settings.threshold >= 0 && settings.threshold < 1,
                "secure aggregation: threshold {} not in [0, 1)", settings.threshold);
  FEDSIGN_CHECK(settings.step_timeout.count() > 0, "secure aggregation: step timeout must be > 0");
  secagg_settings_ = settings;
}

std::shared_ptr<SecAggRound> DispatchingStrategy::secagg_round(int64_t round) const {
  std::lock_guard lock(mutex_);
  return secagg_ && secagg_->round() == round ? secagg_ : nullptr;
}

Status DispatchingStrategy::fold_masked(const std::shared_ptr<Task>& task,
                                        std::vector<uint32_t> words, const fl::Metrics& metrics) {
  std::lock_guard lock(mutex_);
  if (Status s = admit_locked(task, /*masked=*/true, metrics); !s.ok()) return s;
  if (Status s = secagg_->masked(task->client, std::move(words)); !s.ok()) return s;
  secagg_metrics_.add(metrics, 1.0);
  ++folded_;
  folded_clients_.push_back(task->client);
  return Status::Ok();
}

void DispatchingStrategy::note_taken_locked(int64_t round) {
  for (const fl::ClientId id : folded_clients_) taken_rounds_[id] = round;
}

void DispatchingStrategy::restore_taken_rounds(std::optional<std::map<fl::ClientId, int64_t>> rounds) {
  taken_rounds_known_ = rounds.has_value();
  taken_rounds_ = rounds.value_or(std::map<fl::ClientId, int64_t>{});
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
