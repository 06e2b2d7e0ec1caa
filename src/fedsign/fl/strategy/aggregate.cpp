#include "fedsign/fl/strategy/aggregate.h"

#include <torch/torch.h>

#include "fedsign/core/check.h"

namespace fedsign::fl {

namespace {

torch::Tensor to_dtype(const torch::Tensor& value, c10::ScalarType dtype) {
  if (c10::isFloatingType(dtype)) return value.to(dtype);
  return value.round().to(dtype);
}

// Applies `step(x, delta, i)` to trainable tensors (i counts them) and takes the average for
// the rest.
template <typename Step>
Weights step_trainable(const Weights& global, const Weights& average, Step step) {
  check_same_layout(global, average, "server update");
  const std::vector<bool> trainable = trainable_mask(global);
  Weights out;
  out.names = global.names;
  std::size_t k = 0;
  for (std::size_t i = 0; i < global.size(); ++i) {
    if (!trainable[i]) {
      out.tensors.push_back(average.tensors[i]);
      continue;
    }
    out.tensors.push_back(step(global.tensors[i], average.tensors[i] - global.tensors[i], k++));
  }
  return out;
}

void check_state(const Weights& state, const Weights& trainable, const char* what) {
  if (!state.empty()) check_same_layout(state, trainable, what);
}

}  // namespace

void WeightedSum::add(const Weights& w, double weight) {
  FEDSIGN_CHECK(weight >= 0, "aggregation weight {} < 0", weight);
  if (count_ == 0) {
    sum_.names = w.names;
    sum_.tensors.clear();
    dtypes_.clear();
    for (const auto& t : w.tensors) {
      dtypes_.push_back(t.scalar_type());
      sum_.tensors.push_back(t.to(torch::kFloat64) * weight);
    }
  } else {
    FEDSIGN_CHECK(w.names == sum_.names, "aggregation: a result's tensors differ from the first's");
    for (std::size_t i = 0; i < w.size(); ++i) {
      FEDSIGN_CHECK(w.tensors[i].sizes() == sum_.tensors[i].sizes(),
                    "aggregation: tensor '{}' differs in shape from the first result's", w.names[i]);
      sum_.tensors[i].add_(w.tensors[i].to(torch::kFloat64), weight);
    }
  }
  total_ += weight;
  ++count_;
}

Weights WeightedSum::mean() const {
  FEDSIGN_CHECK(count_ > 0 && total_ > 0, "aggregation: nothing to average (total weight {})",
                total_);
  Weights out;
  out.names = sum_.names;
  for (std::size_t i = 0; i < sum_.size(); ++i) {
    out.tensors.push_back(to_dtype(sum_.tensors[i] / total_, dtypes_[i]));
  }
  return out;
}

Weights WeightedSum::sum() const {
  FEDSIGN_CHECK(count_ > 0, "aggregation: empty sum");
  Weights out;
  out.names = sum_.names;
  for (std::size_t i = 0; i < sum_.size(); ++i) out.tensors.push_back(to_dtype(sum_.tensors[i], dtypes_[i]));
  return out;
}

SenderMean::SenderMean(Weights global)
    : global_(std::move(global)), trainable_(trainable_mask(global_)) {}

void SenderMean::add(const Weights& w, double weight) {
  check_same_layout(global_, w, "mean over senders");
  Weights deltas, sent;
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (!trainable_[i]) continue;
    deltas.names.push_back(w.names[i]);
    deltas.tensors.push_back(w.tensors[i].to(torch::kFloat64) - global_.tensors[i].to(torch::kFloat64));
    sent.names.push_back(w.names[i]);
    sent.tensors.push_back(w.tensors[i].ne(global_.tensors[i]).to(torch::kFloat64));
  }
  deltas_.add(deltas, weight);
  senders_.add(sent, weight);
}

Weights SenderMean::mean(Weights plain_mean) const {
  FEDSIGN_CHECK(!deltas_.empty(), "mean over senders of no update");
  const Weights deltas = deltas_.sum(), senders = senders_.sum();
  std::size_t t = 0;  // next trainable tensor
  for (std::size_t i = 0; i < plain_mean.size(); ++i) {
    if (!trainable_[i]) continue;
    const torch::Tensor& g = global_.tensors[i];
    const torch::Tensor& c = senders.tensors[t];
    const torch::Tensor step = deltas.tensors[t] / c.clamp_min(1e-300);
    plain_mean.tensors[i] = torch::where(c > 0, g.to(torch::kFloat64) + step, g.to(torch::kFloat64))
                                .to(g.scalar_type());
    ++t;
  }
  return plain_mean;
}

Weights weighted_average(const std::vector<Weights>& ws, const std::vector<double>& weights) {
  FEDSIGN_CHECK(ws.size() == weights.size(), "weighted_average: {} weights for {} models",
                weights.size(), ws.size());
  WeightedSum sum;
  for (std::size_t i = 0; i < ws.size(); ++i) sum.add(ws[i], weights[i]);
  return sum.mean();
}

void MetricsMean::add(const std::map<std::string, double>& metrics, double weight) {
  for (const auto& [key, value] : metrics) {
    auto& [sum, total] = sums_[key];
    sum += value * weight;
    total += weight;
  }
}

std::map<std::string, double> MetricsMean::mean() const {
  std::map<std::string, double> out;
  for (const auto& [key, st] : sums_) {
    if (st.second > 0) out[key] = st.first / st.second;
  }
  return out;
}

MomentumStep fedavgm_step(const Weights& global, const Weights& average, const Weights& velocity,
                          double server_lr, double momentum) {
  const Weights trainable = select(global, trainable_mask(global));
  check_state(velocity, trainable, "FedAvgM velocity");
  MomentumStep out;
  out.velocity.names = trainable.names;
  out.global = step_trainable(global, average, [&](const torch::Tensor& x,
                                                   const torch::Tensor& delta, std::size_t k) {
    torch::Tensor v = velocity.empty() ? delta : velocity.tensors[k] * momentum + delta;
    out.velocity.tensors.push_back(v);
    return x + v * server_lr;
  });
  return out;
}

FedOptStep fedopt_step(const Weights& global, const Weights& average, const FedOptState& state,
                       const FedOptParams& p) {
  const Weights trainable = select(global, trainable_mask(global));
  check_state(state.m, trainable, "FedOpt first moment");
  check_state(state.v, trainable, "FedOpt second moment");
  FedOptStep out;
  out.state.m.names = trainable.names;
  out.state.v.names = trainable.names;
  out.global = step_trainable(global, average, [&](const torch::Tensor& x,
                                                   const torch::Tensor& delta, std::size_t k) {
    const torch::Tensor m0 = state.m.empty() ? torch::zeros_like(x) : state.m.tensors[k];
    const torch::Tensor v0 =
        state.v.empty() ? torch::full_like(x, p.tau * p.tau) : state.v.tensors[k];
    const torch::Tensor m = m0 * p.beta1 + delta * (1.0 - p.beta1);
    const torch::Tensor d2 = delta * delta;
    torch::Tensor v;
    switch (p.kind) {
      case FedOptKind::kAdagrad: v = v0 + d2; break;
      case FedOptKind::kAdam: v = v0 * p.beta2 + d2 * (1.0 - p.beta2); break;
      case FedOptKind::kYogi: v = v0 - d2 * (1.0 - p.beta2) * torch::sign(v0 - d2); break;
    }
    out.state.m.tensors.push_back(m);
    out.state.v.tensors.push_back(v);
    return x + m * p.eta / (v.sqrt() + p.tau);
  });
  return out;
}

Weights scaffold_client_control(const Weights& c_i, const Weights& c, const Weights& x,
                                const Weights& y, double steps_times_lr) {
  FEDSIGN_CHECK(steps_times_lr > 0, "SCAFFOLD: steps x lr must be positive, got {}",
                steps_times_lr);
  check_same_layout(c_i, c, "SCAFFOLD client control");
  check_same_layout(x, y, "SCAFFOLD client models");
  Weights out;
  out.names = c.names;
  std::size_t j = 0;
  for (std::size_t i = 0; i < c.size(); ++i) {
    while (j < x.size() && x.names[j] != c.names[i]) ++j;
    FEDSIGN_CHECK(j < x.size(), "SCAFFOLD: control tensor '{}' not in the model", c.names[i]);
    out.tensors.push_back(c_i.tensors[i] - c.tensors[i] +
                          (x.tensors[j] - y.tensors[j]) / steps_times_lr);
  }
  return out;
}

Weights scaffold_correction(const Weights& c, const Weights& c_i) { return sub(c, c_i); }

Weights scaffold_server_weights(const Weights& global, const Weights& mean_y, double global_lr) {
  return step_trainable(global, mean_y,
                        [&](const torch::Tensor& x, const torch::Tensor& delta, std::size_t) {
                          return x + delta * global_lr;
                        });
}

Weights scaffold_server_control(const Weights& c, const Weights& sum_delta_c, int64_t num_clients) {
  FEDSIGN_CHECK(num_clients > 0, "SCAFFOLD: {} clients", num_clients);
  return add(c, scale(sum_delta_c, 1.0 / static_cast<double>(num_clients)));
}

}  // namespace fedsign::fl
