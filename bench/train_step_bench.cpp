// Microbenchmark of one training step (forward + backward + AdamW) of a registry model on random
// 32x32 batches, in each precision / memory format, plus the cost of batch augmentation.
// Usage: train_step_bench [model=compact] [batch=128] [steps=20] [threads=0]
// Reports images/second per mode and the ratio to fp32 contiguous measured in the same run.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "fedsign/core/allocator.h"
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
  double baseline = 0;
  for (const auto& mode : modes) {
    const double ips = step_throughput(name, batch, steps, mode);
    if (baseline == 0) baseline = ips;
    std::printf("  %-28s %8.0f img/s  x%.2f\n", train::describe(mode).c_str(), ips, ips / baseline);
  }

  auto gen = at::detail::createCPUGenerator(1);
  auto images = torch::rand({batch, 3, 32, 32});
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) train::augment_batch(images, train::AugmentConfig{}, gen);
  std::printf("  %-28s %8.0f img/s\n", "augmentation alone", batch * steps / seconds_since(start));
  return 0;
}
