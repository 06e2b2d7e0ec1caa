// Full-scene sign recognition: colour/shape region proposals (vision/regions.h), each candidate
// cropped with a margin and read by a trained classifier in one batch, low-confidence
// candidates rejected, then class-aware non-maximum suppression (plus a class-agnostic pass
// for near-identical boxes). Also measures itself on synthetic street scenes with known boxes.
// Not thread-safe (uses the model).
#pragma once

#include <opencv2/core.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fedsign/data/image_loader.h"
#include "fedsign/models/classifier.h"
#include "fedsign/vision/nms.h"
#include "fedsign/vision/regions.h"
#include "fedsign/vision/scene.h"

namespace fedsign::experiments {

struct DetectorOptions {
  vision::RegionOptions regions;
  double crop_padding = 0.1;    // candidate box grown by this on each side before reading it
                                // (GTSRB crops keep a ~10% margin around the sign)
  double threshold = 0.5;       // reject candidates whose top class is less likely than this
  double nms_iou = 0.4;         // class-aware NMS
  double agnostic_iou = 0.7;    // then class-agnostic NMS for duplicates of other classes
  int batch_size = 64;
};

struct DetectionOutput {
  std::vector<vision::Detection> detections;  // after rejection and NMS, by descending score
  std::vector<cv::Rect> proposals;            // candidates read by the classifier (before
                                              // padding for the crop)
  double seconds = 0;                         // proposals + classification + NMS
};

class SignDetector {
 public:
  // `model` reads input_size^2 crops with `contrast` applied (as model.json says).
  SignDetector(std::shared_ptr<models::Classifier> model, int input_size, data::Contrast contrast,
               DetectorOptions options = {});

  DetectionOutput detect(const cv::Mat& bgr);

  // The classifier's input for one BGR crop (resized, contrast-normalized RGB uint8,
  // input_size^2 * 3 bytes), exactly as data::decode_image prepares a file.
  std::vector<std::uint8_t> prepare_crop(const cv::Mat& bgr_crop) const;

  const DetectorOptions& options() const { return options_; }

 private:
  std::shared_ptr<models::Classifier> model_;
  int input_size_;
  data::Contrast contrast_;
  DetectorOptions options_;
};

// The image with each detection's box and "class name confidence" drawn (BGR).
cv::Mat draw_detections(const cv::Mat& bgr, const std::vector<vision::Detection>& detections,
                        const std::vector<vision::Detection>& truth = {});

// JSON array: [{"box": [x, y, w, h], "class": c, "name": "...", "confidence": p}, ...].
std::string detections_json(const std::vector<vision::Detection>& detections);

// Where the signs of one class get lost: of `signs`, how many some proposal covers (IoU >= 0.5),
// how many a detection covers, and how many a detection of the right class covers. (Per sign, so
// "found" may differ slightly from the one-to-one matching of MatchCounts.)
struct ClassRecall {
  int64_t signs = 0, proposed = 0, found = 0, read = 0;
};

struct DetectBenchResult {
  int scenes = 0;
  int64_t signs = 0;
  int64_t proposals = 0;
  vision::MatchCounts agnostic;  // box found (IoU >= 0.5), any class
  vision::MatchCounts aware;     // box found and class right
  std::map<int, ClassRecall> per_class;
  double seconds_per_image = 0;  // detection only (scene generation excluded)
  int64_t proposed() const;      // signs some proposal covers
  double proposal_recall() const { return signs > 0 ? static_cast<double>(proposed()) / signs : 1.0; }
};

// Detects signs in scenes 0..scenes-1 of `generator` (seeded by `seed`) and scores them at IoU
// 0.5. Writes into out_dir (if not empty): bench.json, report.md, per_class.csv and the first
// `examples` scenes annotated (example_N.png: green truth, red detections).
DetectBenchResult run_detect_bench(SignDetector& detector, const vision::SceneGenerator& generator,
                                   int scenes, uint64_t seed,
                                   const std::filesystem::path& out_dir, int examples = 4);

std::string detect_bench_markdown(const DetectBenchResult& r, double threshold);

}  // namespace fedsign::experiments
