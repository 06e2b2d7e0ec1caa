// In-process inference benchmark of a trained model (what `fedsign predict` does, minus process
// start and JSON): model load time, image decode time, single-image latency (median / p90 of
// `reps` forwards of batch 1, decode excluded and included) and batched throughput (batch 64 and
// 256, forward only), for fp32 contiguous and, on CPUs with native bf16, bf16 autocast +
// channels-last, and int8 for a compact model (models/int8_compact.h). Prints a Markdown table.
// Usage: predict_bench MODEL_DIR_OR_PT IMAGE... [--reps N] [--threads N]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "fedsign/core/allocator.h"
#include "fedsign/data/image_loader.h"
#include "fedsign/models/int8_compact.h"
#include "fedsign/train/batch.h"
#include "fedsign/train/evaluate.h"
#include "fedsign/train/model_bundle.h"
#include "fedsign/train/precision.h"
#include "fedsign/train/trainer.h"

using namespace fedsign;
using Clock = std::chrono::steady_clock;

namespace {
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
}

// Normalized N x 3 x S x S input from N decoded HxWx3 uint8 images laid out back to back.
torch::Tensor to_input(const std::vector<std::uint8_t>& pixels, int64_t n, int size,
                       const train::ComputeMode& mode) {
  auto x = train::image_to_input(pixels.data(), size, size, n);
  if (mode.channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
  return x;
}

// A model's forward pass in one compute mode: float logits of a normalized batch.
using Forward = std::function<torch::Tensor(const torch::Tensor&)>;

int64_t classify(const Forward& forward, const torch::Tensor& x) {
  const torch::Tensor logits = forward(x);
  // Same post-processing as predict: softmax + top-k, and read the answer back.
  auto [p, c] = torch::softmax(logits.to(torch::kFloat32), 1).topk(3, 1);
  return c[0][0].item<int64_t>();
}
}  // namespace

int main(int argc, char** argv) {
  fedsign::keep_freed_memory_mapped();  // as the fedsign CLI does (core/allocator.h)
  std::string model_path;
  std::vector<std::string> images;
  int reps = 200;
  int threads = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--reps" && i + 1 < argc) {
      reps = std::stoi(argv[++i]);
    } else if (a == "--threads" && i + 1 < argc) {
      threads = std::stoi(argv[++i]);
    } else if (model_path.empty()) {
      model_path = a;
    } else {
      images.push_back(a);
    }
  }
  if (model_path.empty() || images.empty()) {
    std::fprintf(stderr, "usage: predict_bench MODEL IMAGE... [--reps N] [--threads N]\n");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // rows appear as they are measured
  train::configure_threads(threads);

  auto start = Clock::now();
  train::LoadedModel loaded = train::load_model_bundle(model_path);
  const double load_seconds = seconds_since(start);
  data::LoadOptions load;
  load.size = loaded.info.input_size;
  load.contrast = data::parse_contrast(loaded.info.contrast);
  const int size = load.size;
  const std::size_t image_bytes = static_cast<std::size_t>(size) * size * 3;

  // Decode every image once (timed), then recycle them to fill the batches.
  std::vector<std::uint8_t> decoded(images.size() * image_bytes);
  start = Clock::now();
  for (std::size_t i = 0; i < images.size(); ++i) {
    const std::string problem =
        data::decode_image(images[i], nullptr, load, decoded.data() + i * image_bytes);
    if (!problem.empty()) {
      std::fprintf(stderr, "%s: %s\n", images[i].c_str(), problem.c_str());
      return 1;
    }
  }
  const double decode_ms = 1e3 * seconds_since(start) / static_cast<double>(images.size());
  auto batch_pixels = [&](int64_t n, std::size_t offset) {
    std::vector<std::uint8_t> out(static_cast<std::size_t>(n) * image_bytes);
    for (int64_t i = 0; i < n; ++i) {
      const std::size_t src = (offset + static_cast<std::size_t>(i)) % images.size();
      std::copy_n(decoded.data() + src * image_bytes, image_bytes, out.data() + i * image_bytes);
    }
    return out;
  };

  std::printf("model %s (%s, %lld classes, %d px, contrast %s), %d threads, native bf16: %s\n",
              loaded.weights_file.c_str(), loaded.info.architecture.c_str(),
              static_cast<long long>(loaded.info.num_classes), size, loaded.info.contrast.c_str(),
              torch::get_num_threads(), train::cpu_has_native_bf16() ? "yes" : "no");
  std::printf("model load %.1f ms; decode (OpenCV, crop-free, %s, resize) %.3f ms/image over %zu "
              "images\n\n",
              1e3 * load_seconds, loaded.info.contrast.c_str(), decode_ms, images.size());

  std::vector<train::ComputeMode> modes = {{train::Precision::kFp32, false}};
  if (train::cpu_has_native_bf16()) {
    modes.push_back({train::Precision::kFp32, true});
    modes.push_back({train::Precision::kBf16, false});
    modes.push_back({train::Precision::kBf16, true});
  }
  std::printf("| mode | 1 image median ms | 1 image p90 ms | 1 image + decode median ms | "
              "batch 64 img/s | batch 256 img/s |\n");
  std::printf("|---|---:|---:|---:|---:|---:|\n");
  torch::NoGradGuard no_grad;
  auto measure = [&](const std::string& label, const Forward& forward, const train::ComputeMode& mode) {
    int64_t sink = 0;
    // Single image, forward only (decoded pixels ready).
    std::vector<torch::Tensor> singles;
    for (std::size_t i = 0; i < std::min<std::size_t>(images.size(), 64); ++i) {
      singles.push_back(to_input(batch_pixels(1, i), 1, size, mode));
    }
    for (int i = 0; i < 10; ++i) sink += classify(forward, singles[i % singles.size()]);
    std::vector<double> single_ms;
    for (int i = 0; i < reps; ++i) {
      const auto t = Clock::now();
      sink += classify(forward, to_input(batch_pixels(1, i), 1, size, mode));
      single_ms.push_back(1e3 * seconds_since(t));
    }
    // Single image including decode from file (what one `predict IMAGE` call does per image).
    std::vector<double> decode_single_ms;
    std::vector<std::uint8_t> one(image_bytes);
    for (int i = 0; i < reps; ++i) {
      const auto t = Clock::now();
      data::decode_image(images[i % images.size()], nullptr, load, one.data());
      sink += classify(forward, to_input(one, 1, size, mode));
      decode_single_ms.push_back(1e3 * seconds_since(t));
    }

    double batch_ips[2] = {0, 0};
    const int64_t batch_sizes[2] = {64, 256};
    for (int b = 0; b < 2; ++b) {
      const int64_t n = batch_sizes[b];
      auto x = to_input(batch_pixels(n, 0), n, size, mode);
      for (int i = 0; i < 3; ++i) sink += classify(forward, x);  // warm-up
      const int iters = std::max(5, static_cast<int>(4096 / n));
      const auto t = Clock::now();
      for (int i = 0; i < iters; ++i) sink += classify(forward, x);
      batch_ips[b] = static_cast<double>(n * iters) / seconds_since(t);
    }
    std::printf("| %s | %.2f | %.2f | %.2f | %.0f | %.0f |\n", label.c_str(),
                percentile(single_ms, 0.5), percentile(single_ms, 0.9),
                percentile(decode_single_ms, 0.5), batch_ips[0], batch_ips[1]);
    if (sink == -1) std::printf(" ");  // keep the results observable
  };
  for (const auto& mode : modes) {
    auto reloaded = train::load_model_bundle(model_path);
    auto& model = *reloaded.model;
    model.eval();
    train::apply_memory_format(model, mode.channels_last);
    measure(train::describe(mode), [&](const torch::Tensor& x) {
      train::AutocastScope autocast(mode);
      return model.forward(x).to(torch::kFloat32);
    }, mode);
  }
  // int8 (compact only), its ranges calibrated on the given images: the speed, not the accuracy
  // (`fedsign quantize` checks that on a validation split).
  if (loaded.info.architecture == "compact" && models::int8_inference_available()) {
    loaded.model->eval();
    const auto calibration = to_input(batch_pixels(static_cast<int64_t>(images.size()), 0),
                                      static_cast<int64_t>(images.size()), size, {});
    const models::Int8Compact int8(*loaded.model, models::calibrate_int8(*loaded.model, {calibration}));
    measure("int8 (oneDNN)", [&](const torch::Tensor& x) { return int8.forward(x); }, {});
  }
  return 0;
}
