// What the robust rules and update codecs cost on the server / client per round, outside
// training: n random client updates the size of a model, combined by each rule; and one update
// encoded and decoded by each codec, with its bytes.
// Usage: robust_bench [model=resnet18] [clients=10] [reps=5]
// Reports milliseconds (median of reps), the rule's buffer bytes and the codec's bytes.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "fedsign/core/allocator.h"
#include "fedsign/fl/compress/quantize.h"
#include "fedsign/fl/compress/topk.h"
#include "fedsign/fl/compress/upload.h"
#include "fedsign/fl/robust/flat_update.h"
#include "fedsign/fl/robust/robust_rules.h"
#include "fedsign/fl/weights.h"
#include "fedsign/models/registry.h"
#include "median_time.h"

using namespace fedsign;

using bench::median_ms;

int main(int argc, char** argv) {
  fedsign::keep_freed_memory_mapped();  // as the fedsign CLI does (core/allocator.h)
  const std::string name = argc > 1 ? argv[1] : "resnet18";
  const int n = argc > 2 ? std::stoi(argv[2]) : 10;
  const int reps = argc > 3 ? std::stoi(argv[3]) : 5;
  torch::set_num_threads(1);
  torch::manual_seed(0);
  auto model = models::create_model(name);
  const fl::Weights global = fl::get_weights(*model);
  const int64_t d = fl::robust::floating_numel(global);
  fl::robust::Updates updates;
  for (int i = 0; i < n; ++i) updates.push_back(torch::randn({d}) * 1e-3);
  const std::vector<double> weights(static_cast<std::size_t>(n), 1.0);
  std::printf("model %s: %lld floating values, %d clients, buffer %.1f MB, 1 thread\n",
              name.c_str(), static_cast<long long>(d), n, n * d * 4 / 1e6);
  namespace r = fl::robust;
  const auto report = [&](const char* what, double ms) { std::printf("  %-28s %9.1f ms\n", what, ms); };
  report("mean", median_ms(reps, [&] { (void)r::weighted_mean(updates, weights); }));
  report("median", median_ms(reps, [&] { (void)r::coordinate_median(updates); }));
  report("trimmed mean (beta 0.1)", median_ms(reps, [&] { (void)r::trimmed_mean(updates, 0.1); }));
  report("krum (f 2)", median_ms(reps, [&] { (void)r::multi_krum(updates, weights, 2, 1); }));
  report("fltrust", median_ms(reps, [&] { (void)r::fltrust(updates, updates[0]); }));
  report("clip (one update)", median_ms(reps, [&] { (void)r::clip_to_norm(updates[1], 1e-3); }));

  fl::Weights delta = fl::zeros_like(global);
  for (auto& t : delta.tensors) {
    if (t.is_floating_point()) t = torch::randn(t.sizes()) * 1e-3;
  }
  std::printf("update codecs (one client, float32 update %.2f MB):\n", delta.bytes() / 1e6);
  const auto codec = [&](const char* what, double ms, int64_t bytes) {
    std::printf("  %-28s %9.1f ms  %9.3f MB  %5.1fx fewer\n", what, ms, bytes / 1e6,
                static_cast<double>(delta.bytes()) / static_cast<double>(bytes));
  };
  fl::compress::Int8Options per_tensor, per_channel;
  per_channel.per_channel = true;
  const auto q = fl::compress::quantize_int8(delta, per_tensor);
  codec("int8 per tensor enc+dec", median_ms(reps, [&] {
          (void)fl::compress::dequantize(fl::compress::quantize_int8(delta, per_tensor));
        }), q.bytes());
  const auto qc = fl::compress::quantize_int8(delta, per_channel);
  codec("int8 per channel enc+dec", median_ms(reps, [&] {
          (void)fl::compress::dequantize(fl::compress::quantize_int8(delta, per_channel));
        }), qc.bytes());
  // Top-1% as `--compress topk` sends it (small tensors whole: --topk-dense-up-to's default).
  const fl::compress::TopKRule top1 = fl::compress::topk_rule({.codec = "topk", .topk_fraction = 0.01});
  const auto top = fl::compress::topk_compress(delta, top1);
  codec("top-1% + feedback enc+dec", median_ms(reps, [&] {
          auto t = fl::compress::topk_compress(delta, top1, top.residual);
          (void)fl::compress::densify(t.sparse);
        }), top.sparse.bytes());
  codec("bf16 model enc+dec", median_ms(reps, [&] {
          (void)fl::compress::from_bf16(fl::compress::to_bf16(global));
        }), fl::compress::to_bf16(global).bytes());
}
