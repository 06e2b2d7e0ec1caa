// `fedsign predict MODEL IMAGE...`: top-k classes with sign names and confidences, as text or
// JSON. Images are decoded with OpenCV (any format it reads) and classified in batches, by
// train::Predictor (shared with `fedsign serve`).
#include <nlohmann/json.hpp>

#include <iostream>

#include "commands.h"
#include "fedsign/core/check.h"
#include "fedsign/data/sign_names.h"
#include "fedsign/train/model_bundle.h"
#include "fedsign/train/predictor.h"
#include "fedsign/train/trainer.h"

namespace fedsign::cli {

namespace {
struct PredictCommand {
  std::string model;
  std::vector<std::string> images;
  int top_k = 3;
  bool json = false;
  int batch_size = 64;
  std::string precision = "auto";
  int threads = 0;
};

void run(const PredictCommand& o) {
  train::configure_threads(o.threads);
  const train::Predictor predictor(train::load_model_bundle(o.model), o.precision);
  const std::size_t image_bytes = predictor.image_bytes();
  const std::size_t batch = static_cast<std::size_t>(std::max(1, o.batch_size));

  nlohmann::json results = nlohmann::json::array();
  for (std::size_t begin = 0; begin < o.images.size(); begin += batch) {
    const std::size_t end = std::min(o.images.size(), begin + batch);
    std::vector<std::uint8_t> pixels((end - begin) * image_bytes);
    for (std::size_t i = begin; i < end; ++i) {
      const std::string problem =
          predictor.decode(o.images[i], pixels.data() + (i - begin) * image_bytes);
      FEDSIGN_CHECK(problem.empty(), "{}: {}", o.images[i], problem);
    }
    const auto scores =
        predictor.classify(pixels.data(), static_cast<int64_t>(end - begin), o.top_k);
    for (std::size_t i = begin; i < end; ++i) {
      const auto& top = scores[i - begin];
      if (!o.json) {
        std::printf("%s\n", o.images[i].c_str());
        for (const auto& t : top) {
          std::printf("  %2d  %-52s %6.2f%%\n", t.class_id,
                      std::string(data::sign_name(t.class_id)).c_str(), 100.0 * t.confidence);
        }
      }
      results.push_back({{"image", o.images[i]}, {"top", train::scores_json(top)}});
    }
  }
  if (o.json) std::cout << results.dump(2) << "\n";
}
}  // namespace

void add_predict_command(CLI::App& app, Actions& actions) {
  auto o = std::make_shared<PredictCommand>();
  CLI::App* cmd = add_command(app, "predict", "Classify sign images (crops) with a trained model");
  cmd->add_option("model", o->model, "run directory or model .pt file")->required();
  cmd->add_option("images", o->images, "image files (any format OpenCV reads)")->required();
  cmd->add_option("--top-k", o->top_k, "classes to show per image")->capture_default_str();
  cmd->add_flag("--json", o->json, "print JSON instead of text");
  cmd->add_option("--batch-size", o->batch_size, "images per forward pass")->capture_default_str();
  cmd->add_option("--precision", o->precision,
                  "auto, fp32, bf16, or int8 (compact models after `fedsign quantize`)")
      ->check(CLI::IsMember({"auto", "fp32", "bf16", "int8"}))
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "threads (0: all cores)")->capture_default_str();
  actions[cmd] = [o] { run(*o); };
}

}  // namespace fedsign::cli
