// Microbenchmark of one training step (forward + backward + AdamW) of a registry model on random
// 32x32 batches, in each precision / memory format, plus the cost of batch augmentation.
// Usage: train_step_bench [model=compact] [batch=128] [steps=20] [threads=0]
// Reports images/second per mode and the ratio to fp32 contiguous measured in the same run, and
// (issue 19) this machine's bf16 and fp32 GEMM rate measured in the same run, with the compact
// CNN's training FLOPs per image, so that a step's speed reads as a fraction of the rate the
// hardware reaches on its best-shaped work. Two lines are for scripts (run_train_bench.sh):
//   GEMM_BF16_GFLOPS=<rate>   TRAIN_MFLOP_PER_IMAGE=<flops of one training image, compact only>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "fedsign/core/allocator.h"
#include "fedsign/models/compact_cnn.h"
#include "fedsign/models/registry.h"
#include "fedsign/train/augment.h"
#include "fedsign/train/evaluate.h"
#include "fedsign/train/optimizer.h"
#include "fedsign/train/precision.h"
#include "fedsign/train/trainer.h"

using namespace fedsign;

namespace {
double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double step_throughput(const std::string& name, int64_t batch, int steps, train::ComputeMode mode) {
  torch::manual_seed(0);
  auto model = models::create_model(name);
  train::apply_memory_format(*model, mode.channels_last);
  auto optimizer = train::make_optimizer(model->parameters(), train::OptimizerConfig{});
  auto x = torch::randn({batch, 3, 32, 32});
  if (mode.channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
  auto y = torch::randint(0, 43, {batch}, torch::kInt64);
  auto step = [&] {
    optimizer->zero_grad();
    torch::Tensor logits;
    {
      train::AutocastScope autocast(mode);
      logits = model->forward(x);
    }
    torch::nn::functional::cross_entropy(logits.to(torch::kFloat32), y).backward();
    optimizer->step();
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up: oneDNN primitive creation
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) step();
  return batch * steps / seconds_since(start);
}
// GFLOP/s of torch::mm on two n x n matrices of `dtype` (2 n^3 FLOPs each), after a warm-up.
double gemm_gflops(torch::ScalarType dtype, int64_t n = 2048, int reps = 10) {
  const auto a = torch::randn({n, n}).to(dtype), b = torch::randn({n, n}).to(dtype);
  for (int i = 0; i < 2; ++i) torch::mm(a, b);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) torch::mm(a, b);
  return 2.0 * static_cast<double>(n * n * n) * reps / seconds_since(start) / 1e9;
}

// Multiply-accumulates of one forward pass of the compact CNN at side x side: every conv
// (out x in x k x k per output pixel; the 2x2 pools halve the side) and the head.
double compact_forward_macs(models::Classifier& model, int64_t side) {
  auto* compact = dynamic_cast<models::CompactCnnImpl*>(&model);
  if (compact == nullptr) return 0;
  double macs = 0;
  for (const auto& stage : {compact->stage1, compact->stage2, compact->stage3, compact->stage4}) {
    for (const auto& child : stage->children()) {
      if (auto* conv = child->as<torch::nn::Conv2dImpl>()) {
        const auto& w = conv->weight;
        macs += static_cast<double>(w.numel()) * static_cast<double>(side * side);
      } else if (child->as<torch::nn::MaxPool2dImpl>()) {
        side /= 2;
      }
    }
  }
  return macs + static_cast<double>(compact->head->weight.numel());
}
}  // namespace

int main(int argc, char** argv) {
  fedsign::keep_freed_memory_mapped();  // as the fedsign CLI does (core/allocator.h)
  const std::string name = argc > 1 ? argv[1] : "compact";
  const int64_t batch = argc > 2 ? std::stoll(argv[2]) : 128;
  const int steps = argc > 3 ? std::stoi(argv[3]) : 20;
  train::configure_threads(argc > 4 ? std::stoi(argv[4]) : 0);
  std::printf("model %s, batch %lld, %d steps, %d threads, native bf16: %s\n", name.c_str(),
              static_cast<long long>(batch), steps, torch::get_num_threads(),
              train::cpu_has_native_bf16() ? "yes" : "no");

  std::vector<train::ComputeMode> modes = {{train::Precision::kFp32, false},
                                           {train::Precision::kFp32, true}};
  if (train::cpu_has_native_bf16()) {
    modes.push_back({train::Precision::kBf16, false});
    modes.push_back({train::Precision::kBf16, true});
  }
  double baseline = 0, last = 0;
  for (const auto& mode : modes) {
    const double ips = step_throughput(name, batch, steps, mode);
    if (baseline == 0) baseline = ips;
    last = ips;
    std::printf("  %-28s %8.0f img/s  x%.2f\n", train::describe(mode).c_str(), ips, ips / baseline);
  }

  // Training FLOPs = 3 x forward (the forward pass, the gradients of the inputs and of the
  // weights), the usual convention; a FLOP is half a multiply-accumulate.
  const double bf16_rate = gemm_gflops(torch::kBFloat16);
  const double fp32_rate = gemm_gflops(torch::kFloat32);
  std::printf("  %-28s %8.0f GFLOP/s bf16, %.0f GFLOP/s fp32 (torch::mm, 2048 x 2048)\n", "GEMM",
              bf16_rate, fp32_rate);
  std::printf("GEMM_BF16_GFLOPS=%.1f\n", bf16_rate);
  auto model = models::create_model(name);
  const double macs = compact_forward_macs(*model, 32);
  if (macs > 0) {
    const double train_flops = 3 * 2 * macs;
    std::printf("  %s: %.2f M MACs forward at 32 px; training %.1f MFLOP per image (3 x forward)\n",
                name.c_str(), macs / 1e6, train_flops / 1e6);
    std::printf("TRAIN_MFLOP_PER_IMAGE=%.2f\n", train_flops / 1e6);
    std::printf("  %-28s %8.0f GFLOP/s = %.0f%% of the bf16 GEMM rate\n",
                (train::describe(modes.back()) + " step").c_str(), last * train_flops / 1e9,
                100 * last * train_flops / 1e9 / bf16_rate);
  }

  auto gen = at::detail::createCPUGenerator(1);
  auto images = torch::rand({batch, 3, 32, 32});
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) train::augment_batch(images, train::AugmentConfig{}, gen);
  std::printf("  %-28s %8.0f img/s\n", "augmentation alone", batch * steps / seconds_since(start));
  return 0;
}
