#include "fedsign/experiments/detector.h"

#include "fedsign/data/prepare.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/data/sign_names.h"
#include "fedsign/report/csv.h"
#include "fedsign/train/batch.h"

namespace fedsign::experiments {
namespace fs = std::filesystem;

SignDetector::SignDetector(std::shared_ptr<models::Classifier> model, int input_size,
                           data::Contrast contrast, DetectorOptions options)
    : model_(std::move(model)), input_size_(input_size), contrast_(contrast), options_(options) {
  FEDSIGN_CHECK(model_ != nullptr, "detector: no model");
  FEDSIGN_CHECK(input_size_ >= 8, "detector: input size {} too small", input_size_);
  FEDSIGN_CHECK(options_.threshold >= 0 && options_.threshold <= 1,
                "detector: threshold {} outside [0, 1]", options_.threshold);
}

std::vector<std::uint8_t> SignDetector::prepare_crop(const cv::Mat& bgr_crop) const {
  cv::Mat rgb;
  cv::cvtColor(bgr_crop, rgb, cv::COLOR_BGR2RGB);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(input_size_) * input_size_ * 3);
  data::prepare_crop(rgb, input_size_, contrast_, out.data());
  return out;
}

DetectionOutput SignDetector::detect(const cv::Mat& bgr) {
  FEDSIGN_CHECK(bgr.type() == CV_8UC3, "detect: expected a BGR 8-bit image");
  const auto start = std::chrono::steady_clock::now();
  DetectionOutput out;
  const auto regions = vision::propose_regions(bgr, options_.regions);
  for (const auto& region : regions) out.proposals.push_back(region.box);
  std::vector<vision::Detection> candidates;
  if (!regions.empty()) {
    model_->eval();
    torch::NoGradGuard no_grad;
    const std::size_t bytes = static_cast<std::size_t>(input_size_) * input_size_ * 3;
    const auto batch = static_cast<std::size_t>(std::max(1, options_.batch_size));
    for (std::size_t begin = 0; begin < regions.size(); begin += batch) {
      const std::size_t end = std::min(regions.size(), begin + batch);
      std::vector<std::uint8_t> pixels((end - begin) * bytes);
      for (std::size_t i = begin; i < end; ++i) {
        const cv::Rect crop = vision::pad_box(regions[i].box, options_.crop_padding, bgr.size());
        const auto prepared = prepare_crop(bgr(crop));
        std::copy(prepared.begin(), prepared.end(), pixels.begin() + (i - begin) * bytes);
      }
      const auto x = train::image_to_input(pixels.data(), input_size_, input_size_,
                                           static_cast<int64_t>(end - begin));
      const auto probabilities = torch::softmax(model_->forward(x), 1);
      const auto [confidence, classes] = probabilities.max(1);
      for (std::size_t i = begin; i < end; ++i) {
        const float p = confidence[static_cast<int64_t>(i - begin)].item<float>();
        if (p < options_.threshold) continue;
        candidates.push_back({regions[i].box,
                              static_cast<int>(classes[static_cast<int64_t>(i - begin)].item<int64_t>()),
                              p});
      }
    }
  }
  out.detections = vision::suppress(vision::suppress(candidates, options_.nms_iou, true),
                                    options_.agnostic_iou, false);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

cv::Mat draw_detections(const cv::Mat& bgr, const std::vector<vision::Detection>& detections,
                        const std::vector<vision::Detection>& truth) {
  cv::Mat out = bgr.clone();
  for (const auto& t : truth) cv::rectangle(out, t.box, cv::Scalar(0, 200, 0), 1);
  for (const auto& d : detections) {
    cv::rectangle(out, d.box, cv::Scalar(0, 0, 255), 2);
    const std::string label = fmt::format("{} {} {:.0f}%", d.class_id,
                                          std::string(data::sign_name(d.class_id)).substr(0, 24),
                                          100 * d.score);
    int baseline = 0;
    const cv::Size text = cv::getTextSize(label, cv::FONT_HERSHEY_SIMPLEX, 0.4, 1, &baseline);
    const cv::Point origin(d.box.x, std::max(text.height + 2, d.box.y - 3));
    cv::rectangle(out, cv::Rect(origin.x, origin.y - text.height - 2, text.width + 2, text.height + 4),
                  cv::Scalar(0, 0, 255), cv::FILLED);
    cv::putText(out, label, {origin.x + 1, origin.y}, cv::FONT_HERSHEY_SIMPLEX, 0.4,
                cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
  }
  return out;
}

std::string detections_json(const std::vector<vision::Detection>& detections) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& d : detections) {
    j.push_back({{"box", {d.box.x, d.box.y, d.box.width, d.box.height}},
                 {"class", d.class_id},
                 {"name", data::sign_name(d.class_id)},
                 {"confidence", d.score}});
  }
  return j.dump(2);
}

DetectBenchResult run_detect_bench(SignDetector& detector, const vision::SceneGenerator& generator,
                                   int scenes, uint64_t seed, const fs::path& out_dir,
                                   int examples) {
  FEDSIGN_CHECK(scenes >= 1, "detect bench: needs >= 1 scene, got {}", scenes);
  if (!out_dir.empty()) fs::create_directories(out_dir);
  DetectBenchResult r;
  r.scenes = scenes;
  double seconds = 0;
  for (int i = 0; i < scenes; ++i) {
    const vision::Scene scene = generator.generate(seed, static_cast<uint64_t>(i));
    const DetectionOutput found = detector.detect(scene.image);
    seconds += found.seconds;
    r.signs += static_cast<int64_t>(scene.signs.size());
    r.proposals += static_cast<int64_t>(found.proposals.size());
    for (const auto& sign : scene.signs) {
      ClassRecall& c = r.per_class[sign.class_id];
      ++c.signs;
      const auto covers = [&](const cv::Rect& box) { return vision::iou(box, sign.box) >= 0.5; };
      c.proposed += std::any_of(found.proposals.begin(), found.proposals.end(), covers);
      for (bool right_class : {false, true}) {
        const bool hit = std::any_of(found.detections.begin(), found.detections.end(), [&](const auto& d) {
          return covers(d.box) && (!right_class || d.class_id == sign.class_id);
        });
        (right_class ? c.read : c.found) += hit;
      }
    }
    r.agnostic += vision::match_detections(scene.signs, found.detections, 0.5, false);
    r.aware += vision::match_detections(scene.signs, found.detections, 0.5, true);
    if (!out_dir.empty() && i < examples) {
      cv::imwrite((out_dir / fmt::format("example_{}.png", i)).string(),
                  draw_detections(scene.image, found.detections, scene.signs));
    }
  }
  r.seconds_per_image = seconds / scenes;
  if (!out_dir.empty()) {
    const nlohmann::json j = {
        {"scenes", r.scenes},
        {"signs", r.signs},
        {"proposals", r.proposals},
        {"proposal_recall", r.proposal_recall()},
        {"threshold", detector.options().threshold},
        {"class_agnostic", {{"precision", r.agnostic.precision()}, {"recall", r.agnostic.recall()},
                            {"tp", r.agnostic.true_positives}, {"fp", r.agnostic.false_positives},
                            {"fn", r.agnostic.false_negatives}}},
        {"class_aware", {{"precision", r.aware.precision()}, {"recall", r.aware.recall()},
                         {"tp", r.aware.true_positives}, {"fp", r.aware.false_positives},
                         {"fn", r.aware.false_negatives}}},
        {"seconds_per_image", r.seconds_per_image}};
    write_text_atomically(out_dir / "bench.json", j.dump(2) + "\n");
    report::CsvTable csv({"class", "name", "signs", "proposed", "found", "read"});
    std::string table =
        "Per class (a sign counts as proposed / found / read when some proposal / detection / "
        "detection of its class covers it at IoU >= 0.5):\n\n"
        "| class | name | signs | proposed | found | read |\n|---:|---|---:|---:|---:|---:|\n";
    for (const auto& [id, c] : r.per_class) {
      const std::string name(data::sign_name(id));
      csv.add_row({std::to_string(id), name, std::to_string(c.signs), std::to_string(c.proposed),
                   std::to_string(c.found), std::to_string(c.read)});
      table += fmt::format("| {} | {} | {} | {} | {} | {} |\n", id, name, c.signs, c.proposed,
                           c.found, c.read);
    }
    csv.save(out_dir / "per_class.csv");
    std::string md = "# Detector on synthetic street scenes\n\n" +
                     detect_bench_markdown(r, detector.options().threshold) + table + "\n";
    for (int i = 0; i < std::min(examples, scenes); ++i) {
      md += fmt::format("![example {0}](example_{0}.png)\n", i);
    }
    write_text_atomically(out_dir / "report.md", md);
  }
  return r;
}

int64_t DetectBenchResult::proposed() const {
  int64_t n = 0;
  for (const auto& [id, c] : per_class) n += c.proposed;
  return n;
}

std::string detect_bench_markdown(const DetectBenchResult& r, double threshold) {
  return fmt::format(
      "{} scenes, {} signs, {} candidate regions covering {} of the signs ({:.1f}%); rejection "
      "threshold {:.2f}; IoU >= 0.5.\n\n"
      "| matching | precision | recall | TP | FP | FN |\n|---|---:|---:|---:|---:|---:|\n"
      "| box only (class-agnostic) | {:.3f} | {:.3f} | {} | {} | {} |\n"
      "| box and class (class-aware) | {:.3f} | {:.3f} | {} | {} | {} |\n\n"
      "Time per image (proposals + classification + NMS): {:.1f} ms.\n\n",
      r.scenes, r.signs, r.proposals, r.proposed(), 100.0 * r.proposal_recall(), threshold, r.agnostic.precision(), r.agnostic.recall(),
      r.agnostic.true_positives, r.agnostic.false_positives, r.agnostic.false_negatives,
      r.aware.precision(), r.aware.recall(), r.aware.true_positives, r.aware.false_positives,
      r.aware.false_negatives, 1000 * r.seconds_per_image);
}

}  // namespace fedsign::experiments
