#include "fedsign/fl/run/server.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace fedsign::fl {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
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

RoundRecord Server::run_round(int64_t round, Weights& global, bool evaluate) {
  const auto start = Clock::now();
  RoundRecord record;
  record.round = round;

  std::vector<FitInstruction> instructions = strategy_.configure_fit(round, global, clients_);
  record.clients_sampled = static_cast<int64_t>(instructions.size());
  std::unique_ptr<FitAggregation> aggregation = strategy_.begin_aggregate_fit(round, global);
  for (auto& instruction : instructions) {
    const auto client_start = Clock::now();
    try {
      FitResult result = factory_(instruction.client_id)->fit(instruction.ins);
      result.client_id = instruction.client_id;
      auto it = result.metrics.find("train_seconds");
      record.train_seconds += it != result.metrics.end() ? it->second : since(client_start);
      instruction.ins = {};  // drop this instruction's references before aggregating
      aggregation->add(std::move(result));
    } catch (const ClientDropout& e) {
      spdlog::debug("round {}: {}", round, e.what());
      record.failures.push_back({instruction.client_id, e.what()});
    } catch (const std::exception& e) {
      spdlog::warn("round {}: client {} failed: {}", round, instruction.client_id, e.what());
      record.failures.push_back({instruction.client_id, e.what()});
    }
  }
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
