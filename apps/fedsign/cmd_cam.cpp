// `fedsign cam MODEL IMAGE...`: Grad-CAM (or plain CAM) heatmaps over sign images, an overlay
// PNG per image and a grid of all of them.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/data/image_loader.h"
#include "fedsign/data/sign_names.h"
#include "fedsign/experiments/gradcam.h"
#include "fedsign/experiments/gradcam_overlay.h"
#include "fedsign/train/batch.h"
#include "fedsign/train/model_bundle.h"
#include "fedsign/train/trainer.h"

namespace fedsign::cli {

namespace {
struct CamCommand {
  std::string model;
  std::vector<std::string> images;
  int target_class = -1;
  std::string method = "gradcam";
  int display = 128;
  int columns = 0;
  int threads = 0;
  std::string out = "runs/cam";
};

std::string caption_name(int c) { return std::string(data::sign_name(c)).substr(0, 30); }

void run(const CamCommand& o) {
  train::LoadedModel loaded = train::load_model_bundle(o.model);
  train::configure_threads(o.threads);
  const auto method = experiments::parse_cam_method(o.method);
  data::LoadOptions model_view;
  model_view.size = loaded.info.input_size;
  model_view.contrast = data::parse_contrast(loaded.info.contrast);
  data::LoadOptions display_view;
  display_view.size = o.display;

  const std::filesystem::path out = o.out;
  std::filesystem::create_directories(out);
  std::vector<cv::Mat> tiles;
  nlohmann::json summary = nlohmann::json::array();
  const int size = model_view.size;
  for (std::size_t i = 0; i < o.images.size(); ++i) {
    const std::string& file = o.images[i];
    std::vector<std::uint8_t> input(static_cast<std::size_t>(size) * size * 3);
    std::vector<std::uint8_t> shown(static_cast<std::size_t>(o.display) * o.display * 3);
    std::string problem = data::decode_image(file, nullptr, model_view, input.data());
    if (problem.empty()) problem = data::decode_image(file, nullptr, display_view, shown.data());
    FEDSIGN_CHECK(problem.empty(), "{}: {}", file, problem);

    const auto x = train::image_to_input(input.data(), size, size);
    const auto cam = experiments::compute_cam(*loaded.model, x, method, o.target_class);
    cv::Mat heat(size, size, CV_32F, cam.heatmaps[0].data_ptr<float>());
    cv::Mat rgb(o.display, o.display, CV_8UC3, shown.data()), bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    const int predicted = static_cast<int>(cam.predicted[0]);
    const int target = static_cast<int>(cam.target_class[0]);
    std::vector<std::string> caption = {
        fmt::format("pred {} {:.0f}% {}", predicted, 100 * cam.confidence[0], caption_name(predicted))};
    if (target != predicted) {
      caption.push_back(fmt::format("explains {} ({:.0f}%) {}", target,
                                    100 * cam.target_probability[0], caption_name(target)));
    }
    const cv::Mat tile = experiments::cam_tile(bgr, heat.clone(), caption);
    const auto stem = std::filesystem::path(file).stem().string();
    const auto png = out / fmt::format("{:03}_{}_{}.png", i, stem, experiments::to_string(method));
    FEDSIGN_CHECK(cv::imwrite(png.string(), tile), "{}: cannot write", png.string());
    tiles.push_back(tile);
    summary.push_back({{"image", file}, {"overlay", png.filename().string()},
                       {"predicted", predicted}, {"name", data::sign_name(predicted)},
                       {"confidence", cam.confidence[0]}, {"explained_class", target}});
    std::printf("%s: predicted %d (%s, %.1f%%), heatmap of class %d -> %s\n", file.c_str(),
                predicted, std::string(data::sign_name(predicted)).c_str(), 100 * cam.confidence[0],
                target, png.c_str());
  }
  if (tiles.size() > 1) {
    const auto grid = out / "grid.png";
    FEDSIGN_CHECK(cv::imwrite(grid.string(), experiments::tile_grid(tiles, o.columns)),
                  "{}: cannot write", grid.string());
    std::printf("grid of %zu images -> %s\n", tiles.size(), grid.c_str());
  }
  write_text_atomically(out / "cam.json", summary.dump(2) + "\n");
}
}  // namespace

void add_cam_command(CLI::App& app, Actions& actions) {
  auto o = std::make_shared<CamCommand>();
  CLI::App* cmd = add_command(app, "cam",
                              "Grad-CAM / CAM heatmaps: where the model looks, per image");
  cmd->add_option("model", o->model, "run directory or model .pt file")->required();
  cmd->add_option("images", o->images, "sign images (any format OpenCV reads)")->required();
  cmd->add_option("--class", o->target_class, "class to explain (default: the predicted one)")
      ->check(CLI::Range(-1, 1000));
  cmd->add_option("--method", o->method, "gradcam, or cam (global-average-pooling models)")
      ->check(CLI::IsMember({"gradcam", "cam"}))
      ->capture_default_str();
  cmd->add_option("--display", o->display, "side of the shown image in pixels")
      ->check(CLI::Range(16, 1024))
      ->capture_default_str();
  cmd->add_option("--columns", o->columns, "grid columns (0: about square)")->capture_default_str();
  cmd->add_option("--threads", o->threads, "threads (0: all cores)")->capture_default_str();
  cmd->add_option("--out", o->out, "output directory")->capture_default_str();
  actions[cmd] = [o] { run(*o); };
}

}  // namespace fedsign::cli
