// The arithmetic of federated aggregation as pure functions, tested directly
// (tests/fl/aggregate_test.cpp): weighted averaging, the server optimizers of FedAvgM and FedOpt,
// and SCAFFOLD's control-variate updates. Strategies (fedavg.h, fedopt.h, scaffold.h ...) only
// decide which of these to call; the network server calls the same functions.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fedsign/fl/weights.h"

namespace fedsign::fl {

// A running weighted sum of Weights (float64 accumulators), so a server folds client results in
// one at a time and keeps O(model) memory however many clients report. Not thread-safe.
class WeightedSum {
 public:
  // Adds weight * w. The first call fixes the layout; later ones must match it.
  void add(const Weights& w, double weight);
  bool empty() const { return count_ == 0; }
  int64_t count() const { return count_; }
  double total_weight() const { return total_; }
  // sum / total_weight in the added tensors' dtypes (integer tensors rounded). Throws if empty
  // or the total weight is not positive.
  Weights mean() const;
  // The raw sum, in the added tensors' dtypes.
  Weights sum() const;

 private:
  Weights sum_;  // float64
  std::vector<c10::ScalarType> dtypes_;
  double total_ = 0.0;
  int64_t count_ = 0;
};

// The mean of sparse updates (top-k uploads) over the clients that sent each value: for a
// trainable value, global + sum_i w_i (x_i - global) / sum_{i: x_i != global} w_i, and the
// global value where no client changed it. With top-1% uploads from 10 clients most values come
// from one client: the plain mean moves them by a tenth of what was sent, while error feedback
// has already taken the whole of it out of that client's residual, so nine tenths of every
// sent value are lost. Tensors that are not trainable (running statistics, counters) are sent
// whole and keep the plain mean. Two float64 model-sized buffers. Not thread-safe.
class SenderMean {
 public:
  explicit SenderMean(Weights global);
  // A client's model: global + its decoded update.
  void add(const Weights& w, double weight);
  // `plain_mean` (the weighted mean of the added models) with its trainable tensors replaced.
  Weights mean(Weights plain_mean) const;

 private:
  Weights global_;
  std::vector<bool> trainable_;
  WeightedSum deltas_;   // sum_i w_i (x_i - global)
  WeightedSum senders_;  // sum_i w_i [x_i != global]
};

// sum_i weights[i] * ws[i] / sum_i weights[i] (FedAvg with weights = example counts).
Weights weighted_average(const std::vector<Weights>& ws, const std::vector<double>& weights);

// Running weighted means of scalar metrics (e.g. clients' train_loss weighted by examples).
class MetricsMean {
 public:
  void add(const std::map<std::string, double>& metrics, double weight);
  std::map<std::string, double> mean() const;

 private:
  std::map<std::string, std::pair<double, double>> sums_;  // key -> (weighted sum, weight)
};

// ---- Server optimizers. `global` is x_t, `average` the (weighted) mean of the clients' models;
// the update delta = average - global is the negated pseudo-gradient. Only trainable tensors
// (trainable_mask) are stepped; running statistics and integer tensors take the average.

// FedAvgM (Hsu et al. 2019): v = momentum * v + delta; x = x + server_lr * v.
// `velocity` is empty before the first step (v starts at 0). Returns (x_{t+1}, v).
struct MomentumStep {
  Weights global;
  Weights velocity;  // trainable tensors only
};
MomentumStep fedavgm_step(const Weights& global, const Weights& average, const Weights& velocity,
                          double server_lr, double momentum);

// FedOpt (Reddi et al. 2021, "Adaptive Federated Optimization", Algorithm 2):
//   m = beta1 * m + (1 - beta1) * delta
//   Adagrad: v = v + delta^2
//   Adam:    v = beta2 * v + (1 - beta2) * delta^2
//   Yogi:    v = v - (1 - beta2) * delta^2 * sign(v - delta^2)
//   x = x + eta * m / (sqrt(v) + tau)
// with m_0 = 0 and v_{-1} = tau^2 as in the paper (no bias correction).
enum class FedOptKind { kAdagrad, kAdam, kYogi };
struct FedOptParams {
  FedOptKind kind = FedOptKind::kAdam;
  double eta = 1e-2;   // server learning rate
  double beta1 = 0.9;
  double beta2 = 0.99;
  double tau = 1e-3;   // adaptivity
};
struct FedOptState {
  Weights m, v;  // trainable tensors only; empty before the first step
};
struct FedOptStep {
  Weights global;
  FedOptState state;
};
FedOptStep fedopt_step(const Weights& global, const Weights& average, const FedOptState& state,
                       const FedOptParams& params);

// ---- SCAFFOLD (Karimireddy et al. 2020), control variates over trainable tensors.

// Client, option II: c_i+ = c_i - c + (x - y_i) / (steps * lr), where x is the global model the
// client started from, y_i its model after `steps` local steps of learning rate `lr`.
// x and y_i may be full Weights; the result has the layout of c.
Weights scaffold_client_control(const Weights& c_i, const Weights& c, const Weights& x,
                                const Weights& y, double steps_times_lr);

// The correction added to the gradients of local training: c - c_i.
Weights scaffold_correction(const Weights& c, const Weights& c_i);

// Server: x+ = x + eta_g * (mean_i y_i - x) for trainable tensors (running statistics take
// mean_i y_i); c+ = c + sum_i delta_c_i / num_clients (= |S|/N * mean delta c_i).
Weights scaffold_server_weights(const Weights& global, const Weights& mean_y, double global_lr);
Weights scaffold_server_control(const Weights& c, const Weights& sum_delta_c, int64_t num_clients);

}  // namespace fedsign::fl
