// `fedsign detect MODEL IMAGE...`: find and read the signs in whole street images (JSON +
// annotated PNG); with --synthetic N, measure the detector on N generated street scenes.
#include <opencv2/imgcodecs.hpp>
#include <spdlog/spdlog.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/data/sign_names.h"
#include "fedsign/experiments/detector.h"
#include "fedsign/train/model_bundle.h"
#include "fedsign/train/trainer.h"
#include "fedsign/vision/pictograms.h"

namespace fedsign::cli {

namespace {
struct DetectCommand {
  std::string model;
  std::vector<std::string> images;
  experiments::DetectorOptions detector;
  bool json = false;
  int threads = 0;
  std::string out = "runs/detect";
  // Synthetic benchmark.
  int synthetic = 0;
  std::string meta;
  std::string backgrounds;
  uint64_t seed = 1;
  int examples = 4;
  vision::SceneOptions scene;
};

void run(const DetectCommand& o) {
  train::LoadedModel loaded = train::load_model_bundle(o.model);
  train::configure_threads(o.threads);
  experiments::SignDetector detector(loaded.model, loaded.info.input_size,
                                     data::parse_contrast(loaded.info.contrast), o.detector);
  const std::filesystem::path out = o.out;
  std::filesystem::create_directories(out);

  if (o.synthetic > 0) {
    FEDSIGN_CHECK(!o.meta.empty(), "--synthetic needs --meta (the GTSRB Meta/ pictograms)");
    auto pictograms = vision::load_pictograms(vision::find_meta_dir(o.meta),
                                              static_cast<int>(loaded.info.num_classes));
    std::shared_ptr<const vision::BackgroundSource> backgrounds;
    if (!o.backgrounds.empty()) {
      backgrounds = std::make_shared<vision::BackgroundSource>(o.backgrounds);
    }
    vision::SceneGenerator generator(std::move(pictograms), o.scene, backgrounds);
    const auto r = experiments::run_detect_bench(detector, generator, o.synthetic, o.seed, out,
                                                 o.examples);
    std::printf("%s", experiments::detect_bench_markdown(r, o.detector.threshold).c_str());
    std::printf("results in %s\n", out.c_str());
    return;
  }

  FEDSIGN_CHECK(!o.images.empty(), "no images given (or use --synthetic N --meta DIR)");
  nlohmann::json all = nlohmann::json::array();
  for (std::size_t i = 0; i < o.images.size(); ++i) {
    const std::string& file = o.images[i];
    const cv::Mat image = cv::imread(file, cv::IMREAD_COLOR);
    FEDSIGN_CHECK(!image.empty(), "{}: cannot read image", file);
    const auto found = detector.detect(image);
    const auto stem = fmt::format("{:03}_{}", i, std::filesystem::path(file).stem().string());
    const auto json_text = experiments::detections_json(found.detections);
    write_text_atomically(out / (stem + ".json"), json_text + "\n");
    const auto png = out / (stem + "_detections.png");
    FEDSIGN_CHECK(cv::imwrite(png.string(), experiments::draw_detections(image, found.detections)),
                  "{}: cannot write", png.string());
    all.push_back({{"image", file}, {"detections", nlohmann::json::parse(json_text)},
                   {"candidates", found.proposals.size()}, {"seconds", found.seconds}});
    if (!o.json) {
      std::printf("%s: %zu sign(s) from %d candidates in %.1f ms -> %s\n", file.c_str(),
                  found.detections.size(), found.proposals.size(), 1000 * found.seconds, png.c_str());
      for (const auto& d : found.detections) {
        std::printf("  [%d, %d, %d, %d] %2d %-45s %5.1f%%\n", d.box.x, d.box.y, d.box.width,
                    d.box.height, d.class_id, std::string(data::sign_name(d.class_id)).c_str(),
                    100 * d.score);
      }
    }
  }
  write_text_atomically(out / "detections.json", all.dump(2) + "\n");
  if (o.json) std::cout << all.dump(2) << "\n";
}
}  // namespace

void add_detect_command(CLI::App& app, Actions& actions) {
  auto o = std::make_shared<DetectCommand>();
  CLI::App* cmd = add_command(app, "detect",
                              "Find and read signs in street images (colour/shape proposals + "
                              "classifier); --synthetic N measures it on generated scenes");
  cmd->add_option("model", o->model, "run directory or model .pt file")->required();
  cmd->add_option("images", o->images, "street images (any format OpenCV reads)");
  auto& d = o->detector;
  cmd->add_option("--threshold", d.threshold, "reject candidates below this confidence")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--nms-iou", d.nms_iou, "IoU of class-aware non-maximum suppression")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--crop-padding", d.crop_padding, "margin added around candidates before reading")
      ->capture_default_str();
  cmd->add_option("--min-side", d.regions.min_side, "smallest candidate side in pixels")
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "print JSON instead of text");
  cmd->add_option("--threads", o->threads, "threads (0: all cores)")->capture_default_str();
  cmd->add_option("--out", o->out, "output directory")->capture_default_str();
  cmd->add_option("--synthetic", o->synthetic,
                  "measure on this many generated street scenes instead of IMAGEs");
  cmd->add_option("--meta", o->meta, "GTSRB folder or its Meta/ pictograms (for --synthetic)");
  cmd->add_option("--backgrounds", o->backgrounds,
                  "folder of background photos (default: procedural streets)");
  cmd->add_option("--seed", o->seed, "seed of the generated scenes")->capture_default_str();
  cmd->add_option("--examples", o->examples, "annotated example scenes to save")
      ->capture_default_str();
  cmd->add_option("--scene-width", o->scene.width)->capture_default_str();
  cmd->add_option("--scene-height", o->scene.height)->capture_default_str();
  cmd->add_option("--max-signs", o->scene.max_signs, "signs per scene (at most)")
      ->capture_default_str();
  actions[cmd] = [o] { run(*o); };
}

}  // namespace fedsign::cli
