// Synthetic street scenes: truth boxes where the signs are, sizes within limits, determinism,
// the region proposals find most coloured signs in them, saved files hold the scene and its
// truth, and bad options are refused with a message saying which.
#include "fedsign/vision/scene.h"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <nlohmann/json.hpp>

#include "fedsign/vision/regions.h"
#include "tests/testing/errors.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::vision {
namespace {

// Two pictograms drawn here (no dataset needed): a red-ring prohibition sign and a blue disc.
std::vector<Pictogram> drawn_pictograms() {
  std::vector<Pictogram> pictograms(2);
  for (int c = 0; c < 2; ++c) {
    cv::Mat bgra(100, 100, CV_8UC4, cv::Scalar(0, 0, 0, 0));
    if (c == 0) {
      cv::circle(bgra, {50, 50}, 49, cv::Scalar(40, 30, 210, 255), cv::FILLED, cv::LINE_AA);
      cv::circle(bgra, {50, 50}, 37, cv::Scalar(245, 245, 245, 255), cv::FILLED, cv::LINE_AA);
    } else {
      cv::circle(bgra, {50, 50}, 49, cv::Scalar(200, 90, 20, 255), cv::FILLED, cv::LINE_AA);
      cv::arrowedLine(bgra, {50, 80}, {50, 20}, cv::Scalar(250, 250, 250, 255), 8);
    }
    pictograms[static_cast<std::size_t>(c)] = {c, bgra, 1, c};
  }
  return pictograms;
}

TEST(Scene, SignsAreWhereTheTruthSays) {
  SceneOptions options;
  options.min_signs = 2;
  options.max_signs = 3;
  options.blur_probability = 0;
  SceneGenerator generator(drawn_pictograms(), options);
  for (uint64_t i = 0; i < 5; ++i) {
    const Scene scene = generator.generate(3, i);
    ASSERT_EQ(scene.image.size(), cv::Size(640, 360));
    ASSERT_GE(scene.signs.size(), 1u);
    for (const auto& s : scene.signs) {
      EXPECT_TRUE(s.class_id == 0 || s.class_id == 1);
      EXPECT_GE(std::max(s.box.width, s.box.height), 14);
      EXPECT_LE(std::max(s.box.width, s.box.height), 130);
      // The box holds sign colour.
      cv::Mat hsv;
      cv::cvtColor(scene.image(s.box), hsv, cv::COLOR_BGR2HSV);
      const auto colour = s.class_id == 0 ? SignColor::kRed : SignColor::kBlue;
      EXPECT_GT(cv::countNonZero(color_mask(hsv, colour)), s.box.area() / 10);
      for (const auto& other : scene.signs) {
        if (&other != &s) EXPECT_EQ((other.box & s.box).area(), 0);
      }
    }
  }
}

TEST(Scene, DeterministicPerIndex) {
  SceneGenerator generator(drawn_pictograms(), {});
  const Scene a = generator.generate(7, 4);
  generator.generate(7, 1);
  const Scene b = generator.generate(7, 4);
  EXPECT_EQ(cv::norm(a.image, b.image, cv::NORM_INF), 0);
  ASSERT_EQ(a.signs.size(), b.signs.size());
  const Scene c = generator.generate(8, 4);
  EXPECT_GT(cv::norm(a.image, c.image, cv::NORM_INF), 0);
}

TEST(Scene, ProposalsFindMostSigns) {
  SceneOptions options;
  options.min_side = 28;
  SceneGenerator generator(drawn_pictograms(), options);
  MatchCounts counts;
  for (uint64_t i = 0; i < 20; ++i) {
    const Scene scene = generator.generate(1, i);
    std::vector<Detection> found;
    for (const auto& r : propose_regions(scene.image)) found.push_back({r.box, -1, 1.0f});
    counts += match_detections(scene.signs, found, 0.5, false);
  }
  EXPECT_GT(counts.recall(), 0.8) << counts.true_positives << " of "
                                  << counts.true_positives + counts.false_negatives;
}

TEST(Scene, SavesImageAndTruth) {
  testing::TempDir tmp;
  SceneOptions options;
  options.min_signs = 2;  // at least two entries in the truth file
  options.max_signs = 3;
  SceneGenerator generator(drawn_pictograms(), options);
  const Scene scene = generator.generate(1, 0);
  ASSERT_GE(scene.signs.size(), 2u);
  save_scene(scene, tmp / "s.png", tmp / "s.json");
  // The PNG is the scene's image, pixel for pixel.
  const cv::Mat png = cv::imread((tmp / "s.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(png.size(), scene.image.size());
  ASSERT_EQ(png.type(), scene.image.type());
  EXPECT_EQ(cv::norm(png, scene.image, cv::NORM_INF), 0);
  // The JSON lists every sign: box [x, y, w, h] and class, in order.
  const auto truth = nlohmann::json::parse(testing::read_text(tmp / "s.json"));
  ASSERT_TRUE(truth.is_array());
  ASSERT_EQ(truth.size(), scene.signs.size());
  for (std::size_t i = 0; i < scene.signs.size(); ++i) {
    const auto& s = scene.signs[i];
    EXPECT_EQ(truth[i]["class"].get<int>(), s.class_id) << i;
    EXPECT_EQ(truth[i]["box"].get<std::vector<int>>(),
              (std::vector<int>{s.box.x, s.box.y, s.box.width, s.box.height}))
        << i;
  }
}

TEST(Scene, RejectsBadOptions) {
  SceneOptions options;
  options.max_side = 400;
  EXPECT_ERROR(SceneGenerator(drawn_pictograms(), options),
               "scene generator: signs up to 400 px do not fit a 640x360 scene");
  EXPECT_ERROR(SceneGenerator({}, SceneOptions{}), "scene generator: no pictograms");
  SceneOptions sizes;
  sizes.min_side = 50;
  sizes.max_side = 40;
  EXPECT_ERROR(SceneGenerator(drawn_pictograms(), sizes), "scene generator: bad sign sizes 50..40");
  SceneOptions counts;
  counts.min_signs = 3;
  counts.max_signs = 2;
  EXPECT_ERROR(SceneGenerator(drawn_pictograms(), counts), "scene generator: bad sign counts 3..2");
  SceneOptions classes;
  classes.classes = {5};
  EXPECT_ERROR(SceneGenerator(drawn_pictograms(), classes), "scene generator: no pictogram for class 5");
}

}  // namespace
}  // namespace fedsign::vision
