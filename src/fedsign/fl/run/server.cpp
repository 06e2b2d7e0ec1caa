#include "fedsign/fl/run/server.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "fedsign/fl/run/client_threads.h"

namespace fedsign::fl {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One client's fit: its result, or why it has none.
struct FitOutcome {
  std::optional<FitResult> result;
  std::string error;         // without a result
  bool dropped_out = false;  // a simulated dropout (ClientDropout), logged quietly
  double call_seconds = 0;   // the whole call: making the client, training, encoding
};

FitOutcome fit_client(const ClientFactory& make, FitInstruction& instruction) {
  const auto start = Clock::now();
  FitOutcome o;
  try {
    FitResult result = make(instruction.client_id)->fit(instruction.ins);
    result.client_id = instruction.client_id;
    o.result = std::move(result);
  } catch (const ClientDropout& e) {
    o.dropped_out = true;
    o.error = e.what();
  } catch (const std::exception& e) {
    o.error = e.what();
  }
  o.call_seconds = since(start);
  return o;
}

// Aggregation metrics of the wrappers (robust rules, clipping, colluding attackers) that are
// worth a metrics.csv column; the clients' averaged metrics (steps, lr, ...) are not.
bool is_column(const std::string& key) {
  for (const char* prefix : {"robust_", "clip_", "attack_"}) {
    if (key.rfind(prefix, 0) == 0) return true;
  }
  return false;
}
}  // namespace

Server::Server(Strategy& strategy, const ClientManager& clients, ClientFactory factory)
    : strategy_(strategy), clients_(clients), factory_(std::move(factory)) {}

void Server::train_in_parallel(ClientThreads& threads, SlotClientFactory factory) {
  threads_ = &threads;
  slot_factory_ = std::move(factory);
}

void Server::fit_clients(int64_t round, std::vector<FitInstruction>& instructions,
                         FitAggregation& aggregation, RoundRecord& record) {
  std::vector<FitOutcome> outcomes(instructions.size());
  auto fit = [&](std::size_t i, const ClientFactory& make) {
    outcomes[i] = fit_client(make, instructions[i]);
    instructions[i].ins = {};  // drop this instruction's references before aggregating
  };
  double reported = 0, called = 0;
  auto fold = [&](std::size_t i) {
    FitOutcome& o = outcomes[i];
    const ClientId id = instructions[i].client_id;
    called += o.call_seconds;
    if (o.result) {
      auto it = o.result->metrics.find("train_seconds");
      reported += it != o.result->metrics.end() ? it->second : o.call_seconds;
      try {
        aggregation.add(std::move(*o.result));
        o = {};
        return;
      } catch (const std::exception& e) {  // a result the aggregation refuses: that client failed
        o.error = e.what();
      }
    }
    if (o.dropped_out) {
      spdlog::debug("round {}: {}", round, o.error);
    } else {
      spdlog::warn("round {}: client {} failed: {}", round, id, o.error);
    }
    record.failures.push_back({id, o.error});
    o = {};
  };
  if (!threads_) {
    for (std::size_t i = 0; i < instructions.size(); ++i) {
      fit(i, factory_);
      fold(i);
    }
    record.train_seconds = reported;
    return;
  }
  const auto start = Clock::now();
  threads_->run(
      instructions.size(),
      [&](std::size_t i, int slot) {
        fit(i, [&](ClientId id) { return slot_factory_(id, slot); });
      },
      fold);
  record.train_seconds = called > 0 ? since(start) * reported / called : 0;
}

RoundRecord Server::run_round(int64_t round, Weights& global, bool evaluate) {
  const auto start = Clock::now();
  RoundRecord record;
  record.round = round;

  std::vector<FitInstruction> instructions = strategy_.configure_fit(round, global, clients_);
  record.clients_sampled = static_cast<int64_t>(instructions.size());
  std::unique_ptr<FitAggregation> aggregation = strategy_.begin_aggregate_fit(round, global);
  fit_clients(round, instructions, *aggregation, record);
  instructions.clear();
  AggregateFitResult aggregated = aggregation->finish(record.failures);
  aggregation.reset();
  global = std::move(aggregated.weights);
  record.fit_metrics = std::move(aggregated.metrics);
  for (const auto& [key, value] : record.fit_metrics) {
    if (is_column(key)) record.columns[key] = value;
  }

  if (evaluate) {
    const auto eval_start = Clock::now();
    record.central = strategy_.evaluate(round, global);
    if (record.central) {
      for (const auto& [key, value] : record.central->metrics) {
        if (key != "accuracy") record.columns[key] = value;
      }
    }
    std::vector<EvaluateResult> results;
    std::vector<Failure> failures;
    for (const auto& instruction : strategy_.configure_evaluate(round, global, clients_)) {
      try {
        EvaluateResult r = factory_(instruction.client_id)->evaluate(instruction.ins);
        r.client_id = instruction.client_id;
        results.push_back(std::move(r));
      } catch (const std::exception& e) {
        failures.push_back({instruction.client_id, e.what()});
      }
    }
    record.federated = strategy_.aggregate_evaluate(round, results, failures);
    record.eval_seconds = since(eval_start);
  }
  record.seconds = since(start);
  return record;
}

}  // namespace fedsign::fl
