// The detector on generated scenes: a red circle sign on grey is found (IoU > 0.5), the
// rejection threshold works, outputs are well formed, and the synthetic benchmark runs.
#include "fedsign/experiments/detector.h"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "fedsign/data/sign_names.h"
#include "fedsign/models/registry.h"
#include "fedsign/train/batch.h"
#include "fedsign/vision/regions.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::experiments {
namespace {

std::shared_ptr<models::Classifier> random_compact() {
  torch::manual_seed(11);
  return models::create_model("compact", {.num_classes = 43});
}

cv::Mat red_sign_on_grey() {
  cv::Mat image(240, 320, CV_8UC3, cv::Scalar(128, 128, 128));
  cv::circle(image, {200, 90}, 30, cv::Scalar(40, 30, 210), cv::FILLED, cv::LINE_AA);
  cv::circle(image, {200, 90}, 22, cv::Scalar(245, 245, 245), cv::FILLED, cv::LINE_AA);
  return image;
}

TEST(Detector, FindsARedCircleSignOnGrey) {
  DetectorOptions options;
  options.threshold = 0.0;  // an untrained model: keep every candidate
  const auto model = random_compact();
  SignDetector detector(model, 32, data::Contrast::kClahe, options);
  const cv::Mat image = red_sign_on_grey();
  const auto out = detector.detect(image);
  EXPECT_EQ(out.proposals.size(), 1u);
  ASSERT_EQ(out.detections.size(), 1u);
  const auto& found = out.detections[0];
  EXPECT_GT(vision::iou(found.box, cv::Rect(170, 60, 61, 61)), 0.5) << found.box;
  // Class and score are the classifier's own reading of the padded crop.
  const cv::Rect crop = vision::pad_box(found.box, options.crop_padding, image.size());
  const auto pixels = detector.prepare_crop(image(crop));
  torch::Tensor probabilities;
  {
    torch::NoGradGuard no_grad;
    model->eval();
    probabilities = torch::softmax(model->forward(train::image_to_input(pixels.data(), 32, 32)), 1);
  }
  EXPECT_EQ(found.class_id, probabilities.argmax(1).item<int64_t>());
  EXPECT_NEAR(found.score, probabilities.max().item<float>(), 1e-5);
  EXPECT_GT(out.seconds, 0.0);

  const auto json = nlohmann::json::parse(detections_json(out.detections));
  ASSERT_EQ(json.size(), 1u);
  EXPECT_EQ(json[0]["box"].get<std::vector<int>>(),
            (std::vector<int>{found.box.x, found.box.y, found.box.width, found.box.height}));
  EXPECT_EQ(json[0]["class"].get<int>(), found.class_id);
  EXPECT_EQ(json[0]["name"].get<std::string>(), std::string(data::sign_name(found.class_id)));
  EXPECT_FLOAT_EQ(json[0]["confidence"].get<float>(), found.score);
  // Drawn: the box outline is red, the rest of the image unchanged far from it.
  const cv::Mat drawn = draw_detections(image, out.detections);
  EXPECT_EQ(drawn.size(), cv::Size(320, 240));
  EXPECT_EQ(drawn.at<cv::Vec3b>(found.box.y + found.box.height - 1, found.box.x + found.box.width / 2),
            cv::Vec3b(0, 0, 255));
  EXPECT_EQ(drawn.at<cv::Vec3b>(230, 10), image.at<cv::Vec3b>(230, 10));
}

TEST(Detector, ThresholdRejectsUnsureCandidates) {
  DetectorOptions options;
  options.threshold = 1.0;
  SignDetector detector(random_compact(), 32, data::Contrast::kNone, options);
  const auto out = detector.detect(red_sign_on_grey());
  EXPECT_EQ(out.proposals.size(), 1u);
  EXPECT_TRUE(out.detections.empty());
  const cv::Mat grey(100, 100, CV_8UC3, cv::Scalar(128, 128, 128));
  EXPECT_TRUE(detector.detect(grey).proposals.empty());
}

TEST(Detector, PreparesCropsAtTheModelInputSize) {
  SignDetector detector(random_compact(), 40, data::Contrast::kClahe);
  const cv::Mat crop(17, 23, CV_8UC3, cv::Scalar(10, 20, 200));
  EXPECT_EQ(detector.prepare_crop(crop).size(), 40u * 40u * 3u);
}

TEST(Detector, BenchmarkOnGeneratedScenes) {
  std::vector<vision::Pictogram> pictograms(1);
  cv::Mat bgra(100, 100, CV_8UC4, cv::Scalar(0, 0, 0, 0));
  cv::circle(bgra, {50, 50}, 49, cv::Scalar(40, 30, 210, 255), cv::FILLED, cv::LINE_AA);
  cv::circle(bgra, {50, 50}, 37, cv::Scalar(245, 245, 245, 255), cv::FILLED, cv::LINE_AA);
  pictograms[0] = {0, bgra, 1, 0};
  vision::SceneOptions scene;
  scene.min_side = 28;
  vision::SceneGenerator generator(pictograms, scene);
  DetectorOptions options;
  options.threshold = 0.0;
  SignDetector detector(random_compact(), 32, data::Contrast::kNone, options);
  testing::TempDir tmp;
  const auto r = run_detect_bench(detector, generator, 16, 1, tmp / "bench", 2);
  EXPECT_EQ(r.scenes, 16);
  EXPECT_GT(r.signs, 16);
  // Red-ringed discs on generated streets: most are found (0.83 with these seeds), not all, as
  // some are drawn small, slanted or blurred.
  EXPECT_GT(r.agnostic.recall(), 0.75);
  EXPECT_LE(r.aware.true_positives, r.agnostic.true_positives);
  // Per class: one class here; a sign is read only if found, found only if proposed.
  ASSERT_EQ(r.per_class.size(), 1u);
  const ClassRecall& c = r.per_class.at(0);
  EXPECT_EQ(c.signs, r.signs);
  EXPECT_EQ(c.proposed, r.proposed());
  EXPECT_LE(c.read, c.found);
  EXPECT_LE(c.found, c.proposed);
  EXPECT_GE(c.found, r.agnostic.true_positives);
  EXPECT_GT(r.seconds_per_image, 0.0);
  for (const char* f : {"bench.json", "report.md", "per_class.csv", "example_0.png", "example_1.png"}) {
    EXPECT_TRUE(std::filesystem::exists(tmp / "bench" / f)) << f;
  }
  EXPECT_FALSE(std::filesystem::exists(tmp / "bench" / "example_2.png"));
}

}  // namespace
}  // namespace fedsign::experiments
