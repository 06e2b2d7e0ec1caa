// `fedsign predict MODEL IMAGE...`: top-k classes with sign names and confidences, as text or
// JSON. Images are decoded with OpenCV (any format it reads) and classified in batches.
#include <nlohmann/json.hpp>

#include <iostream>

#include "commands.h"
#include "fedsign/core/check.h"
#include "fedsign/data/image_loader.h"
#include "fedsign/data/sign_names.h"
#include "fedsign/train/batch.h"
#include "fedsign/train/evaluate.h"
#include "fedsign/train/model_bundle.h"
#include "fedsign/train/precision.h"
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
  train::LoadedModel loaded = train::load_model_bundle(o.model);
  train::configure_threads(o.threads);
  const auto mode = train::resolve_compute_mode(o.precision, "auto");
  train::apply_memory_format(*loaded.model, mode.channels_last);
  data::LoadOptions load;
  load.size = loaded.info.input_size;
  load.contrast = data::parse_contrast(loaded.info.contrast);
  const int k = std::clamp<int>(o.top_k, 1, static_cast<int>(loaded.info.num_classes));
  const std::size_t image_bytes = static_cast<std::size_t>(load.size) * load.size * 3;

  nlohmann::json results = nlohmann::json::array();
  torch::NoGradGuard no_grad;
  for (std::size_t begin = 0; begin < o.images.size(); begin += o.batch_size) {
    const std::size_t end = std::min(o.images.size(), begin + o.batch_size);
    std::vector<std::uint8_t> pixels((end - begin) * image_bytes);
    for (std::size_t i = begin; i < end; ++i) {
      const std::string problem =
          data::decode_image(o.images[i], nullptr, load, pixels.data() + (i - begin) * image_bytes);
      FEDSIGN_CHECK(problem.empty(), "{}: {}", o.images[i], problem);
    }
    auto x = train::image_to_input(pixels.data(), load.size, load.size,
                                   static_cast<int64_t>(end - begin));
    if (mode.channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
    torch::Tensor logits;
    {
      train::AutocastScope autocast(mode);
      logits = loaded.model->forward(x);
    }
    auto [probabilities, classes] = torch::softmax(logits.to(torch::kFloat32), 1).topk(k, 1);
    const auto class_of = classes.accessor<int64_t, 2>();
    const auto probability_of = probabilities.accessor<float, 2>();
    for (std::size_t i = begin; i < end; ++i) {
      nlohmann::json top = nlohmann::json::array();
      for (int j = 0; j < k; ++j) {
        const int c = static_cast<int>(class_of[i - begin][j]);
        top.push_back({{"class", c},
                       {"name", data::sign_name(c)},
                       {"confidence", probability_of[i - begin][j]}});
      }
      if (!o.json) {
        std::printf("%s\n", o.images[i].c_str());
        for (const auto& t : top) {
          std::printf("  %2d  %-52s %6.2f%%\n", t["class"].get<int>(),
                      t["name"].get<std::string>().c_str(), 100 * t["confidence"].get<double>());
        }
      }
      results.push_back({{"image", o.images[i]}, {"top", top}});
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
  cmd->add_option("--precision", o->precision, "auto, fp32 or bf16")
      ->check(CLI::IsMember({"auto", "fp32", "bf16"}))
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "threads (0: all cores)")->capture_default_str();
  actions[cmd] = [o] { run(*o); };
}

}  // namespace fedsign::cli
