// SCAFFOLD on a small quadratic problem where FedAvg drifts: clients minimize different
// f_i(w) = 0.5 ||A_i w - b_i||^2 with many exact local gradient steps. FedAvg settles at a point
// that is not the minimizer of sum_i f_i; SCAFFOLD's control variates remove the drift and it
// converges to the true optimum. The clients are minimal fl::Client implementations driven by the
// same round loop (fl::Server) and strategies as the simulation.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fedsign/fl/strategy/aggregate.h"
#include "fedsign/fl/strategy/fedavg.h"
#include "fedsign/fl/strategy/scaffold.h"
#include "fedsign/fl/run/server.h"

namespace fedsign::fl {
namespace {

constexpr int64_t kLocalSteps = 20;
constexpr double kLr = 0.1;

// Diagonal A_i (as vectors) and b_i, very different across clients.
const std::vector<std::vector<float>> kA = {{2.0f, 0.5f, 1.0f}, {0.5f, 2.0f, 0.3f},
                                            {1.0f, 1.0f, 1.8f}, {1.5f, 0.3f, 0.6f}};
const std::vector<std::vector<float>> kB = {{1.0f, 2.0f, -1.0f}, {-1.0f, 1.0f, 2.0f},
                                            {2.0f, -2.0f, 0.5f}, {0.0f, 3.0f, 1.0f}};

class QuadraticClient : public Client {
 public:
  QuadraticClient(std::size_t i, std::map<ClientId, Weights>& controls)
      : i_(i), a_(torch::tensor(kA[i])), b_(torch::tensor(kB[i])), controls_(controls) {}

  FitResult fit(const FitIns& ins) override {
    const Weights& x = ins.weights;
    torch::Tensor y = x.tensors[0].clone();
    torch::Tensor correction = torch::zeros_like(y);
    Weights c_i;
    if (ins.control) {
      auto it = controls_.find(static_cast<ClientId>(i_));
      c_i = it != controls_.end() ? it->second : zeros_like(*ins.control);
      correction = scaffold_correction(*ins.control, c_i).tensors[0];
    }
    for (int64_t k = 0; k < kLocalSteps; ++k) {
      const torch::Tensor grad = a_ * (a_ * y - b_);  // A^T (A y - b), A diagonal
      y = y - kLr * (grad + correction);
    }
    FitResult r;
    r.weights = {x.names, {y}};
    r.num_examples = 1;
    if (ins.control) {
      Weights c_new = scaffold_client_control(c_i, *ins.control, x, r.weights, kLocalSteps * kLr);
      r.control_delta = sub(c_new, c_i);
      controls_[static_cast<ClientId>(i_)] = c_new;
    }
    return r;
  }
  EvaluateResult evaluate(const EvaluateIns&) override { return {}; }

 private:
  std::size_t i_;
  torch::Tensor a_, b_;
  std::map<ClientId, Weights>& controls_;
};

// The minimizer of sum_i f_i: w_k = sum_i a_ik b_ik / sum_i a_ik^2.
torch::Tensor optimum() {
  torch::Tensor num = torch::zeros({3}, torch::kFloat64), den = torch::zeros({3}, torch::kFloat64);
  for (std::size_t i = 0; i < kA.size(); ++i) {
    const auto a = torch::tensor(kA[i]).to(torch::kFloat64), b = torch::tensor(kB[i]).to(torch::kFloat64);
    num += a * b;
    den += a * a;
  }
  return (num / den).to(torch::kFloat32);
}

double error_after(Strategy& strategy, int64_t rounds) {
  std::map<ClientId, Weights> controls;
  FixedClientManager manager(static_cast<int64_t>(kA.size()));
  Server server(strategy, manager, [&](ClientId id) -> std::unique_ptr<Client> {
    return std::make_unique<QuadraticClient>(static_cast<std::size_t>(id), controls);
  });
  Weights global{{"w"}, {torch::zeros({3})}};
  for (int64_t r = 1; r <= rounds; ++r) server.run_round(r, global, false);
  return (global.tensors[0] - optimum()).abs().max().item<double>();
}

StrategyOptions options(int64_t per_round) {
  StrategyOptions o;
  o.clients_per_round = per_round;
  o.seed = 11;
  return o;
}

TEST(Scaffold, ConvergesOnAQuadraticWhereFedAvgDrifts) {
  FedAvg fedavg(options(4));
  Scaffold scaffold(options(4));
  const double fedavg_error = error_after(fedavg, 150);
  const double scaffold_error = error_after(scaffold, 150);
  EXPECT_GT(fedavg_error, 0.05) << "FedAvg should drift away from the optimum";
  EXPECT_LT(scaffold_error, 1e-4);
  // FedAvg is stuck: more rounds do not help it.
  FedAvg fedavg_more(options(4));
  EXPECT_NEAR(error_after(fedavg_more, 300), fedavg_error, 1e-4);
}

TEST(Scaffold, ConvergesWithPartialParticipation) {
  Scaffold scaffold(options(2));  // 2 of 4 clients per round; c is updated with |S|/N
  EXPECT_LT(error_after(scaffold, 600), 1e-3);
}

TEST(Scaffold, ServerUpdatesMatchThePaper) {
  // x + eta_g * mean(y_i - x); c + (1/N) * sum(delta c_i).
  const Weights x{{"w"}, {torch::tensor({1.0f, 1.0f})}};
  const Weights mean_y{{"w"}, {torch::tensor({2.0f, 0.0f})}};
  EXPECT_TRUE(torch::allclose(scaffold_server_weights(x, mean_y, 0.5).tensors[0],
                              torch::tensor({1.5f, 0.5f})));
  const Weights c{{"w"}, {torch::tensor({0.0f, 1.0f})}};
  const Weights sum_dc{{"w"}, {torch::tensor({4.0f, -2.0f})}};
  EXPECT_TRUE(torch::allclose(scaffold_server_control(c, sum_dc, 8).tensors[0],
                              torch::tensor({0.5f, 0.75f})));
  // Client option II: c_i+ = c_i - c + (x - y) / (K lr).
  const Weights c_i{{"w"}, {torch::tensor({1.0f, 0.0f})}};
  const Weights y{{"w"}, {torch::tensor({0.0f, 3.0f})}};
  EXPECT_TRUE(torch::allclose(scaffold_client_control(c_i, c, x, y, 2.0).tensors[0],
                              torch::tensor({1.0f + 0.5f, -1.0f - 1.0f})));
}

TEST(Scaffold, StateSurvivesSaveAndLoad) {
  Scaffold a(options(4));
  error_after(a, 5);
  ASSERT_EQ(a.state().count("control"), 1u);
  Scaffold b(options(4));
  b.load_state(a.state());
  EXPECT_TRUE(equal(a.control(), b.control()));
}

}  // namespace
}  // namespace fedsign::fl
