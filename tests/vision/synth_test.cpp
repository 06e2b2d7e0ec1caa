// Synthetic sign generator: pictogram loading, compositing, quality guards, and datasets that
// are valid GTSRB layout, readable by the data reader and identical for the same seed.
#include "fedsign/vision/synth.h"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <fmt/format.h>

#include <fstream>
#include <random>
#include <set>

#include "fedsign/core/check.h"
#include "fedsign/data/gtsrb_reader.h"
#include "fedsign/data/image_loader.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::vision {
namespace {
namespace fs = std::filesystem;

// A Meta/ folder of `classes` RGBA pictograms: coloured discs with a class-dependent mark,
// drawn on a transparent 100x100 canvas with a transparent border.
fs::path write_meta(const fs::path& root, int classes) {
  const fs::path meta = root / "Meta";
  fs::create_directories(meta);
  for (int c = 0; c < classes; ++c) {
    cv::Mat image(100, 100, CV_8UC4, cv::Scalar(0, 0, 0, 0));
    cv::circle(image, {50, 50}, 40, cv::Scalar(40, 40, 200, 255), cv::FILLED);
    cv::circle(image, {50, 50}, 30, cv::Scalar(255, 255, 255, 255), cv::FILLED);
    cv::putText(image, std::to_string(c), {30, 62}, cv::FONT_HERSHEY_SIMPLEX, 1.0,
                cv::Scalar(0, 0, 0, 255), 3);
    cv::imwrite((meta / (std::to_string(c) + ".png")).string(), image);
  }
  return meta;
}

std::string file_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(Pictograms, LoadsAndCropsToTheVisibleSign) {
  testing::TempDir tmp;
  write_meta(tmp / "download", 43);
  const fs::path meta = find_meta_dir(tmp.path());
  EXPECT_EQ(meta, tmp / "download" / "Meta");
  const auto pictograms = load_pictograms(meta);
  ASSERT_EQ(pictograms.size(), 43u);
  EXPECT_EQ(pictograms[7].class_id, 7);
  EXPECT_EQ(pictograms[7].bgra.type(), CV_8UC4);
  EXPECT_NEAR(pictograms[7].bgra.cols, 81, 1);  // the disc, not the 100 px canvas
}

TEST(Pictograms, MissingPictogramIsAnError) {
  testing::TempDir tmp;
  const fs::path meta = write_meta(tmp.path(), 3);
  EXPECT_THROW(load_pictograms(meta, 4), Error);
  EXPECT_THROW(find_meta_dir(tmp / "nothing"), Error);
}

TEST(Pictograms, AlternateDesignRepaintsOnlySpeedLimitsAndKeepsTheRing) {
  testing::TempDir tmp;
  const auto pictograms = load_pictograms(write_meta(tmp.path(), 43));
  std::mt19937_64 rng(1);
  SignAppearance plain;  // no fading, dirt or colour change: only the digits differ
  plain.alternate_design = true;
  const SignAppearance as_is;
  for (int c : {0, 8, 14}) {
    const cv::Mat a = render_sign(pictograms[c], as_is, rng);
    const cv::Mat b = render_sign(pictograms[c], plain, rng);
    ASSERT_EQ(a.size(), b.size());
    cv::Mat diff;
    cv::absdiff(a, b, diff);
    const double changed = cv::sum(diff)[0] + cv::sum(diff)[1] + cv::sum(diff)[2];
    if (c == 14) {
      EXPECT_EQ(changed, 0.0) << "class 14 is not a speed limit";
      continue;
    }
    EXPECT_GT(changed, 0.0) << "class " << c;
    // The ring (edge of the disc) and the alpha mask stay as they were.
    const int x = 2, y = b.rows / 2;
    EXPECT_EQ(a.at<cv::Vec4b>(y, x), b.at<cv::Vec4b>(y, x)) << "class " << c;
    cv::Mat alpha_a, alpha_b;
    cv::extractChannel(a, alpha_a, 3);
    cv::extractChannel(b, alpha_b, 3);
    EXPECT_EQ(cv::countNonZero(alpha_a != alpha_b), 0);
  }
}

TEST(Pictograms, GtsrbPedestriansPictogramLosesItsZebraStripes) {
  testing::TempDir tmp;
  const fs::path meta = write_meta(tmp.path(), 28);
  // Class 27 as in GTSRB: a triangle (ShapeId 0) with a figure and, below it, stripes.
  cv::Mat sign(90, 100, CV_8UC4, cv::Scalar(255, 255, 255, 255));
  cv::rectangle(sign, {45, 20}, {55, 60}, cv::Scalar(0, 0, 0, 255), cv::FILLED);  // figure
  for (int x : {20, 45, 70}) {
    cv::rectangle(sign, {x, 70}, {x + 8, 78}, cv::Scalar(0, 0, 0, 255), cv::FILLED);  // stripes
  }
  cv::imwrite((meta / "27.png").string(), sign);
  std::string csv = "Path,ClassId,ShapeId,ColorId,SignId\n";
  for (int c = 0; c < 28; ++c) csv += fmt::format("Meta/{}.png,{},{},0,1\n", c, c, c == 27 ? 0 : 1);
  std::ofstream(meta / "Meta.csv") << csv;
  const auto pictograms = load_pictograms(meta, 28);
  const cv::Mat& p = pictograms[27].bgra;
  EXPECT_EQ(p.at<cv::Vec4b>(40, 50), cv::Vec4b(0, 0, 0, 255));         // the figure stays
  EXPECT_EQ(p.at<cv::Vec4b>(74, 48), cv::Vec4b(255, 255, 255, 255));   // a stripe is gone
  EXPECT_EQ(p.at<cv::Vec4b>(74, 24), cv::Vec4b(255, 255, 255, 255));
  // Without a Meta.csv the shape is unknown (not GTSRB's Meta): the fix does not apply.
  const auto plain = load_pictograms(write_meta(tmp / "other", 28), 28);
  EXPECT_EQ(plain[27].shape_id, -1);
}

TEST(Pictograms, AlternatePedestriansIsTheUprightWalkerInsideTheSameBorder) {
  testing::TempDir tmp;
  const fs::path meta = write_meta(tmp.path(), 28);
  // Class 27 as in GTSRB: a red triangle (ShapeId 0) with a dark figure near its left edge.
  cv::Mat sign(87, 100, CV_8UC4, cv::Scalar(0, 0, 0, 0));
  const std::vector<cv::Point> outer = {{50, 0}, {99, 86}, {0, 86}}, inner = {{50, 20}, {85, 78}, {15, 78}};
  cv::fillConvexPoly(sign, outer, cv::Scalar(30, 30, 220, 255));
  cv::fillConvexPoly(sign, inner, cv::Scalar(255, 255, 255, 255));
  cv::rectangle(sign, {30, 60}, {36, 74}, cv::Scalar(0, 0, 0, 255), cv::FILLED);
  cv::imwrite((meta / "27.png").string(), sign);
  std::string csv = "Path,ClassId,ShapeId,ColorId,SignId\n";
  for (int c = 0; c < 28; ++c) csv += fmt::format("Meta/{}.png,{},{},0,1\n", c, c, c == 27 ? 0 : 1);
  std::ofstream(meta / "Meta.csv") << csv;
  const auto pictograms = load_pictograms(meta, 28);
  SignAppearance alternate;
  alternate.alternate_design = true;
  std::mt19937_64 rng(3);
  const cv::Mat as_is = render_sign(pictograms[27], SignAppearance{}, rng);
  const cv::Mat walker = render_sign(pictograms[27], alternate, rng);
  ASSERT_EQ(as_is.size(), walker.size());
  EXPECT_EQ(walker.at<cv::Vec4b>(67, 33), cv::Vec4b(255, 255, 255, 255));  // old figure gone
  EXPECT_EQ(walker.at<cv::Vec4b>(80, 50), as_is.at<cv::Vec4b>(80, 50));    // border kept
  cv::Mat alpha_a, alpha_b, dark;
  cv::extractChannel(as_is, alpha_a, 3);
  cv::extractChannel(walker, alpha_b, 3);
  EXPECT_EQ(cv::countNonZero(alpha_a != alpha_b), 0);
  // The new figure: dark ink on the vertical axis (head and torso) and nowhere near the edges.
  cv::Mat gray;
  cv::cvtColor(walker, gray, cv::COLOR_BGRA2GRAY);
  dark = (gray < 60) & (alpha_b > 0);
  EXPECT_GT(cv::countNonZero(dark), 150);
  EXPECT_LT(gray.at<uint8_t>(static_cast<int>(0.5 * 87), 50), 60);
  const cv::Rect figure = mask_bounds(dark);
  EXPECT_GT(figure.x, 30);
  EXPECT_LT(figure.x + figure.width, 70);
  // Other classes, and a class 27 that is not GTSRB's triangle, are untouched.
  const cv::Mat other_a = render_sign(pictograms[14], SignAppearance{}, rng);
  const cv::Mat other_b = render_sign(pictograms[14], alternate, rng);
  EXPECT_EQ(cv::norm(other_a, other_b, cv::NORM_L1), 0.0);
  Pictogram unknown = pictograms[27];
  unknown.shape_id = -1;
  EXPECT_EQ(cv::norm(render_sign(unknown, SignAppearance{}, rng), render_sign(unknown, alternate, rng),
                     cv::NORM_L1),
            0.0);
}

TEST(Composite, PastesTheSignIntoTheQuad) {
  cv::Mat background(60, 80, CV_8UC3, cv::Scalar(0, 0, 0));
  cv::Mat sign(10, 10, CV_8UC4, cv::Scalar(0, 0, 255, 255));
  const auto quad = sign_quad({40, 30}, 20, 0, 0, 0);
  const cv::Mat mask = composite(background, sign, quad);
  const cv::Rect box = mask_bounds(mask > 127);
  EXPECT_NEAR(box.x, 30, 1);
  EXPECT_NEAR(box.y, 20, 1);
  EXPECT_NEAR(box.width, 20, 1);
  EXPECT_EQ(background.at<cv::Vec3b>(30, 40), cv::Vec3b(0, 0, 255));
  EXPECT_EQ(background.at<cv::Vec3b>(5, 5), cv::Vec3b(0, 0, 0));
}

TEST(SynthGuards, RejectWhatTheyShould) {
  SynthOptions o;
  SynthParams p;
  p.sign_size = 30;
  EXPECT_EQ(quality_problem(o, p), "");
  SynthParams blurry = p;
  blurry.gaussian_blur = 2.5;
  EXPECT_NE(quality_problem(o, blurry).find("blur"), std::string::npos);
  SynthParams streaked = p;
  streaked.motion_blur = 8;  // sigma 8/sqrt(12) = 2.3
  EXPECT_NE(quality_problem(o, streaked).find("blur"), std::string::npos);
  SynthParams tiny = p;
  tiny.sign_size = 10;
  EXPECT_NE(quality_problem(o, tiny).find("sign"), std::string::npos);

  cv::Mat flat(40, 40, CV_8UC3, cv::Scalar(90, 90, 90));
  EXPECT_NE(quality_problem(o, p, flat, {5, 5, 34, 34}).find("contrast"), std::string::npos);
  cv::Mat textured = flat.clone();
  cv::circle(textured, {20, 20}, 10, cv::Scalar(250, 250, 250), cv::FILLED);
  EXPECT_EQ(quality_problem(o, p, textured, {5, 5, 34, 34}), "");
  EXPECT_NE(quality_problem(o, p, textured, {5, 5, 12, 34}).find("ROI"), std::string::npos);
}

TEST(SynthGuards, SynthesizedSamplesPassThem) {
  testing::TempDir tmp;
  const auto pictograms = load_pictograms(write_meta(tmp.path(), 2), 2);
  SynthOptions o;
  o.max_gaussian_blur = 3.0;  // many draws violate the blur guard and are redrawn
  BackgroundSource backgrounds;
  int redrawn = 0;
  for (int i = 0; i < 40; ++i) {
    const SynthSample s = synthesize(pictograms[1], backgrounds, o, 3, i);
    redrawn += s.attempts > 1;
    const int side = std::min(s.roi.x2 - s.roi.x1, s.roi.y2 - s.roi.y1) + 1;
    EXPECT_GE(side, o.guard_min_sign_pixels);
    EXPECT_GE(s.roi.x1, 2);  // margin around the sign (>= 5 px minus the centre jitter)
    EXPECT_LT(s.roi.x2, s.image.cols - 2);
  }
  EXPECT_GT(redrawn, 0);
}

TEST(SynthDataset, IsGtsrbLayoutReadableAndDeterministic) {
  testing::TempDir tmp;
  const auto pictograms = load_pictograms(write_meta(tmp.path(), 43));
  BackgroundSource backgrounds;
  SynthOptions o;
  DatasetWriteOptions w;
  w.classes = {0, 5, 42};
  w.per_class = 6;
  w.track_size = 2;
  w.seed = 11;
  w.progress = false;
  w.threads = 1;
  const auto report = write_synthetic_dataset(pictograms, backgrounds, o, w, tmp / "a");
  EXPECT_EQ(report.images, 18u);
  w.threads = 3;
  write_synthetic_dataset(pictograms, backgrounds, o, w, tmp / "b");
  w.seed = 12;
  write_synthetic_dataset(pictograms, backgrounds, o, w, tmp / "c");

  const data::DatasetSource source = data::find_dataset(tmp / "a");
  ASSERT_EQ(source.records.size(), 18u);
  std::set<int> classes;
  std::set<std::int64_t> tracks;
  for (const auto& r : source.records) {
    classes.insert(r.class_id);
    tracks.insert(r.track);
    const cv::Mat image = cv::imread(r.image.string());
    ASSERT_FALSE(image.empty()) << r.relative_path;
    EXPECT_EQ(image.cols, r.width);
    EXPECT_EQ(image.rows, r.height);
    EXPECT_GE(r.roi.x1, 0);
    EXPECT_LT(r.roi.x2, r.width);
    EXPECT_LT(r.roi.y2, r.height);
    const int side = std::min(r.roi.x2 - r.roi.x1, r.roi.y2 - r.roi.y1) + 1;
    EXPECT_GE(side, o.guard_min_sign_pixels);
    EXPECT_LE(side, o.max_sign_size + 2);
    // Same seed, other thread count: identical bytes. Other seed: different images.
    EXPECT_EQ(file_bytes(r.image), file_bytes(tmp / "b" / r.relative_path)) << r.relative_path;
    EXPECT_NE(file_bytes(r.image), file_bytes(tmp / "c" / r.relative_path)) << r.relative_path;
  }
  EXPECT_EQ(classes, (std::set<int>{0, 5, 42}));
  EXPECT_EQ(tracks.size(), 9u);  // 3 tracks of 2 per class
  EXPECT_EQ(file_bytes(tmp / "a" / "Train.csv"), file_bytes(tmp / "b" / "Train.csv"));

  data::LoadOptions load;
  load.progress = false;
  const data::ImageSet set = data::load_images(source, load);
  EXPECT_EQ(set.size(), 18u);
}

TEST(Backgrounds, ProceduralAndPhotoSources) {
  std::mt19937_64 rng(1);
  for (int k = 0; k < kNumProceduralKinds; ++k) {
    const cv::Mat b = procedural_background(static_cast<ProceduralKind>(k), {64, 48}, rng);
    ASSERT_EQ(b.size(), cv::Size(64, 48));
    cv::Scalar mean, stddev;
    cv::meanStdDev(b, mean, stddev);
    EXPECT_GT(stddev[0] + stddev[1] + stddev[2], 1.0) << to_string(static_cast<ProceduralKind>(k));
  }
  testing::TempDir tmp;
  cv::Mat photo(100, 150, CV_8UC3, cv::Scalar(10, 200, 30));
  cv::imwrite((tmp / "p.png").string(), photo);
  const BackgroundSource source(tmp.path(), 1.0);
  EXPECT_EQ(source.num_photos(), 1u);
  const cv::Mat crop = source.sample({40, 30}, rng);
  EXPECT_EQ(crop.at<cv::Vec3b>(10, 10), cv::Vec3b(10, 200, 30));
  EXPECT_THROW(BackgroundSource(tmp / "missing"), Error);
}

TEST(SynthRealData, LoadsTheGtsrbPictograms) {
  const fs::path dir = testing::real_gtsrb_dir();
  if (dir.empty() || !fs::exists(dir / "Meta")) GTEST_SKIP() << "no real GTSRB data";
  const auto pictograms = load_pictograms(find_meta_dir(dir));
  ASSERT_EQ(pictograms.size(), 43u);
  EXPECT_EQ(pictograms[12].shape_id, 2);  // priority road: diamond
  EXPECT_EQ(pictograms[33].color_id, 1);  // turn right ahead: blue
  // Meta's yellow temporary "Bumpy road" and "Road work" become white inside, like the photos;
  // the priority road's yellow (not a triangle) stays.
  const auto yellow_fraction = [](const cv::Mat& bgra) {
    cv::Mat bgr, hsv, yellow;
    cv::cvtColor(bgra, bgr, cv::COLOR_BGRA2BGR);
    cv::cvtColor(bgr, hsv, cv::COLOR_BGR2HSV);
    cv::inRange(hsv, cv::Scalar(18, 80, 40), cv::Scalar(40, 255, 255), yellow);
    return cv::countNonZero(yellow) / static_cast<double>(yellow.total());
  };
  EXPECT_EQ(yellow_fraction(pictograms[22].bgra), 0.0);
  EXPECT_EQ(yellow_fraction(pictograms[25].bgra), 0.0);
  EXPECT_GT(yellow_fraction(pictograms[12].bgra), 0.2);
  const cv::Vec4b centre = pictograms[25].bgra.at<cv::Vec4b>(pictograms[25].bgra.rows * 2 / 3, 12 +
                                                              pictograms[25].bgra.cols / 4);
  EXPECT_EQ(centre[0], centre[2]) << "grey or white, not yellow: " << centre;
}

}  // namespace
}  // namespace fedsign::vision
