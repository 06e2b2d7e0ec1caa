// Rare-sign protocol: its pure steps, and a tiny end-to-end run on generated data and
// generated pictograms that writes the report.
#include "fedsign/experiments/rare.h"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <map>
#include <set>
#include <sstream>

#include "fedsign/core/check.h"
#include "fedsign/data/gtsrb_reader.h"
#include "fedsign/data/image_loader.h"
#include "fedsign/data/split.h"
#include "fedsign/train/evaluate.h"
#include "fedsign/train/model_bundle.h"
#include "fedsign/train/precision.h"
#include "fedsign/vision/pictograms.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::experiments {
namespace {
namespace fs = std::filesystem;

TEST(Rare, RarestClassesByCountIgnoringAbsentOnes) {
  const std::vector<int64_t> counts = {50, 3, 0, 7, 3, 100, 9};
  EXPECT_EQ(rarest_classes(counts, 3), (std::vector<int>{1, 3, 4}));
  EXPECT_EQ(rarest_classes(counts, 1), (std::vector<int>{1}));  // tie 1/4: lower id
  EXPECT_EQ(rarest_classes(counts, 10).size(), 6u);
}

TEST(Rare, MixIndicesAddsRatioTimesRealSynthetic) {
  const data::Indices real = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  const data::Indices synthetic = {100, 101, 102};
  const auto mixed = mix_indices(real, synthetic, 0.5, 1);
  ASSERT_EQ(mixed.size(), 15u);
  EXPECT_TRUE(std::equal(real.begin(), real.end(), mixed.begin()));
  std::map<int64_t, int> uses;
  for (std::size_t i = 10; i < mixed.size(); ++i) ++uses[mixed[i]];
  EXPECT_EQ(uses.size(), 3u);  // cycles through all synthetic images before repeating
  for (auto [i, n] : uses) EXPECT_GE(n, 1);
  EXPECT_EQ(mix_indices(real, synthetic, 0.0, 1), real);
  EXPECT_EQ(mix_indices(real, {}, 1.0, 1), real);
}

TEST(Rare, GroupAccuracySplitsRareAndFrequent) {
  const std::vector<int> truth = {0, 0, 1, 1, 2, 2, 2, 3};
  const std::vector<int> predicted = {0, 1, 1, 1, 0, 2, 0, 3};
  const auto g = group_accuracy(truth, predicted, {2, 3}, 4);
  EXPECT_DOUBLE_EQ(g.all, 5.0 / 8);
  EXPECT_DOUBLE_EQ(g.rare, 2.0 / 4);       // class 2: 1/3, class 3: 1/1
  EXPECT_DOUBLE_EQ(g.frequent, 3.0 / 4);
  EXPECT_DOUBLE_EQ(g.per_class[2], 1.0 / 3);
  EXPECT_EQ(g.support[2], 3);
  EXPECT_THROW(group_accuracy({0}, {}, {}, 4), Error);
}

TEST(Rare, AppendAndFilterClasses) {
  data::ImageSet a, b;
  a.height = a.width = b.height = b.width = 2;
  a.labels = {0, 1};
  a.tracks = {10, 11};
  a.paths = {"a0", "a1"};
  a.pixels.assign(2 * 12, 1);
  b.labels = {1, 2, 2};
  b.tracks = {5, 6, 7};
  b.paths = {"b0", "b1", "b2"};
  b.pixels.assign(3 * 12, 2);
  const auto added = data::append(a, b, 1000);
  EXPECT_EQ(added, (data::Indices{2, 3, 4}));
  EXPECT_EQ(a.size(), 5u);
  EXPECT_EQ(a.tracks[4], 1007);
  EXPECT_EQ(a.image(3)[0], 2);
  EXPECT_EQ(data::filter_classes(a, data::all_indices(a), {1}, true), (data::Indices{1, 2}));
  EXPECT_EQ(data::filter_classes(a, data::all_indices(a), {1}, false), (data::Indices{0, 3, 4}));
  data::ImageSet c;
  c.height = c.width = 3;
  c.labels = {0};
  c.pixels.assign(27, 0);
  c.tracks = {0};
  c.paths = {"c"};
  EXPECT_THROW(data::append(a, c), Error);
}

TEST(Rare, WithheldImageLeakNamesTheFirstOffendingImage) {
  data::ImageSet set;
  set.height = set.width = 1;
  set.labels = {0, 1, 2, 1, 2, 0};  // four real images, then two synthetic ones
  set.tracks = {0, 1, 2, 3, 4, 5};
  set.paths = {"r0", "r1", "r2", "r3", "s4", "s5"};
  set.pixels.assign(6 * 3, 0);
  const data::Indices real_train = {0, 1, 2};  // r3 is a validation image
  EXPECT_EQ(withheld_image_leak(set, 4, {2}, real_train, {0, 1, 4, 5}), "");  // synthetic 2 is fine
  EXPECT_EQ(withheld_image_leak(set, 4, {2}, real_train, {0, 2, 4}),
            "real image 2 (r2) of withheld class 2");
  EXPECT_EQ(withheld_image_leak(set, 4, {2}, real_train, {1, 3}),
            "real image 3 (r3) is not in the training split");
}

TEST(Rare, EndToEndWritesReport) {
  testing::TempDir tmp;
  testing::FixtureOptions fixture;
  fixture.num_classes = 43;
  fixture.tracks_per_class = 4;  // per class: 2 training, 1 validation, 1 test track
  fixture.frames_per_track = 2;
  testing::write_kaggle_dataset(tmp / "data", fixture);
  testing::write_fixture_pictograms(tmp / "data", 43);
  data::LoadOptions load;
  load.progress = false;
  load.threads = 2;
  load.contrast = data::Contrast::kEqualize;  // not the default, so model.json must record it
  const auto real = data::load_images(data::find_dataset(tmp / "data"), load);
  const auto split = data::split_by_track(real, 0.25, 1, 0.25);
  ASSERT_EQ(split.test.size(), 43u * 2);

  RareConfig c;
  c.rare_classes = {3, 17};
  c.meta_dir = tmp / "data";
  c.synth_dir = tmp / "synth";
  c.synth_per_class = 4;
  c.synth_threads = 2;
  c.load = load;
  c.train.epochs = 1;
  c.train.batch_size = 32;
  c.train.precision = "fp32";
  c.train.threads = 2;
  c.train.warmup_epochs = 0;
  c.pretrain_epochs = 1;
  c.epochs = 1;
  c.fine_tune = "partial";
  c.classes_per_batch = 8;
  c.images_per_class = 4;
  const auto result = run_rare_protocol(real, split, c, tmp / "run");
  write_rare_report(tmp / "run", result, "fedsign rare ...");
  EXPECT_EQ(result.rare_classes, (std::vector<int>{3, 17}));
  EXPECT_EQ(result.synthetic_images, 43u * 4);
  ASSERT_EQ(result.variants.size(), 3u);
  EXPECT_LT(result.variants[0].accuracy.rare, 0.5);  // never saw a rare image
  for (const auto& v : result.variants) {
    EXPECT_GT(v.accuracy.n_rare, 0);
    EXPECT_EQ(v.accuracy.n_all, static_cast<int64_t>(split.validation.size()));
    // Each variant's final model is scored on the test split too (one track per class).
    EXPECT_EQ(v.test.n_all, static_cast<int64_t>(split.test.size()));
    EXPECT_EQ(v.test.n_rare, 4);
  }
  for (const char* f : {"report.md", "report.csv", "report.png", "report_rare_classes.csv",
                        "pretrain/model.pt", "synthetic-supcon/model.pt"}) {
    EXPECT_TRUE(fs::exists(tmp / "run" / f)) << f;
  }
  EXPECT_TRUE(fs::exists(tmp / "synth" / "Train.csv"));
  // No real image of a withheld class, and no real validation image, reached any training run.
  EXPECT_EQ(result.real_images, real.size());
  ASSERT_EQ(result.training_sets.size(), 3u);  // pretrain, synthetic, synthetic-supcon
  const std::set<int64_t> real_train(split.train.begin(), split.train.end());
  for (const auto& [run, indices] : result.training_sets) {
    SCOPED_TRACE(run);
    std::size_t real_used = 0, synthetic_used = 0;
    for (const int64_t i : indices) {
      if (static_cast<std::size_t>(i) < real.size()) {
        ++real_used;
        EXPECT_NE(real.labels[i], 3) << real.paths[i];
        EXPECT_NE(real.labels[i], 17) << real.paths[i];
        EXPECT_TRUE(real_train.count(i)) << real.paths[i] << " is not a training image";
      } else {
        ++synthetic_used;
        EXPECT_LT(static_cast<std::size_t>(i), real.size() + result.synthetic_images);
      }
    }
    // Every real training image of the other 41 classes is used.
    EXPECT_EQ(real_used, data::filter_classes(real, split.train, {3, 17}, false).size());
    EXPECT_EQ(synthetic_used > 0, run != "pretrain");
  }
  // Every model written is usable by `fedsign evaluate/predict` (model.json beside model.pt),
  // and the reported test figures are those of the saved models, measured again here.
  const auto compute = train::resolve_compute_mode("fp32", "contiguous");
  for (const auto& [variant, index] :
       std::vector<std::pair<const char*, int>>{{"pretrain", 0}, {"synthetic", 1}, {"synthetic-supcon", 2}}) {
    SCOPED_TRACE(variant);
    const auto bundle = train::load_model_bundle(tmp / "run" / variant);
    const auto p = train::predict_subset(*bundle.model, real, split.test, compute);
    EXPECT_NEAR(result.variants[index].test.all, p.accuracy(), 1e-9);
    EXPECT_EQ(bundle.info.architecture, c.train.model);
    EXPECT_EQ(bundle.info.num_classes, 43);
    EXPECT_EQ(bundle.info.input_size, real.height);
    EXPECT_EQ(bundle.info.contrast, data::to_string(load.contrast));
  }
  const std::string md = testing::read_text(tmp / "run" / "report.md");
  EXPECT_NE(md.find("| synthetic-supcon |"), std::string::npos);
  EXPECT_NE(md.find("Per-class accuracy"), std::string::npos);
  EXPECT_NE(md.find("| test: rare |"), std::string::npos);
  EXPECT_NE(md.find("On the test split"), std::string::npos);
  EXPECT_NE(testing::read_text(tmp / "run" / "report.csv").find("test_accuracy_rare"), std::string::npos);

  // A second run reuses the rendered images (same request).
  const auto before = fs::last_write_time(tmp / "synth" / "Train.csv");
  c.variants = {"no-synthetic", "synthetic"};
  run_rare_protocol(real, split, c, tmp / "run2");
  EXPECT_EQ(fs::last_write_time(tmp / "synth" / "Train.csv"), before);
}


// The rendered folder is keyed by the renderer's output, not by a hand-bumped version: when
// the pixels change (here: a pictogram redrawn in place, as a renderer change would), the
// folder is rendered again instead of being reused silently.
TEST(Rare, RenderedFolderIsRenderedAgainWhenThePixelsChange) {
  testing::TempDir tmp;
  testing::write_fixture_pictograms(tmp / "data", 43);  // the protocol loads all 43 pictograms
  RareConfig c;
  c.meta_dir = tmp / "data";
  c.synth_dir = tmp / "synth";
  c.synth_per_class = 3;
  c.synth_threads = 1;
  c.load.progress = false;
  c.load.threads = 1;
  const std::vector<int> classes = {0, 1, 2, 3};
  double rate = -1;
  const data::ImageSet first = prepare_synthetic(c, classes, &rate);
  EXPECT_GT(rate, 0.0) << "rendered";
  ASSERT_EQ(first.size(), 12u);
  prepare_synthetic(c, classes, &rate);
  EXPECT_EQ(rate, 0.0) << "same request, same renderer: reused";

  // Class 2's pictogram gets a black stripe, at the same path.
  const fs::path file = tmp / "data" / "Meta" / "2.png";
  cv::Mat pictogram = cv::imread(file.string(), cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(pictogram.empty());
  cv::rectangle(pictogram, {0, 20}, {59, 40}, cv::Scalar(0, 0, 0, 255), cv::FILLED);
  ASSERT_TRUE(cv::imwrite(file.string(), pictogram));
  const data::ImageSet second = prepare_synthetic(c, classes, &rate);
  EXPECT_GT(rate, 0.0) << "the renders changed: the folder must be rendered again";
  ASSERT_EQ(second.size(), first.size());
  EXPECT_NE(second.pixels, first.pixels);
  const std::string stamp = testing::read_text(tmp / "synth" / "synth-request.txt");
  EXPECT_EQ(stamp.find(" v3"), std::string::npos) << stamp;
  EXPECT_NE(stamp.find("renders "), std::string::npos) << stamp;
}

TEST(Rare, RenderFingerprintFollowsPixelsAndClasses) {
  testing::TempDir tmp;
  auto pictograms = vision::load_pictograms(testing::write_fixture_pictograms(tmp.path(), 4), 4);
  const vision::BackgroundSource backgrounds;
  const vision::SynthOptions options;
  const std::string a = render_fingerprint(pictograms, backgrounds, options, 1, {0, 1, 2, 3});
  EXPECT_EQ(a.size(), 16u);
  EXPECT_EQ(a, render_fingerprint(pictograms, backgrounds, options, 1, {0, 1, 2, 3}));
  EXPECT_NE(a, render_fingerprint(pictograms, backgrounds, options, 2, {0, 1, 2, 3}));
  EXPECT_NE(a, render_fingerprint(pictograms, backgrounds, options, 1, {0, 1, 2}));
  vision::SynthOptions noisier = options;
  noisier.noise += 10;
  EXPECT_NE(a, render_fingerprint(pictograms, backgrounds, noisier, 1, {0, 1, 2, 3}));
  pictograms[3].bgra.at<cv::Vec4b>(pictograms[3].bgra.rows / 2, pictograms[3].bgra.cols / 2) =
      cv::Vec4b(0, 255, 0, 255);
  cv::circle(pictograms[3].bgra, {pictograms[3].bgra.cols / 2, pictograms[3].bgra.rows / 2}, 10,
             cv::Scalar(0, 255, 0, 255), cv::FILLED);
  EXPECT_NE(a, render_fingerprint(pictograms, backgrounds, options, 1, {0, 1, 2, 3}));
  EXPECT_THROW(render_fingerprint(pictograms, backgrounds, options, 1, {7}), Error);
}

// Each rare config renders into its own folder: two configs sharing one would reuse each
// other's renders whenever their requests happen to match, and overwrite them otherwise.
TEST(Rare, ConfigsUseDistinctSynthFolders) {
  const fs::path dir = fs::path(FEDSIGN_SOURCE_DIR) / "configs" / "rare";
  std::map<fs::path, std::string> owner;
  int configs = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".toml") continue;
    ++configs;
    std::string out, synth_dir;
    std::istringstream in(testing::read_text(entry.path()));
    for (std::string line; std::getline(in, line);) {
      const auto eq = line.find('=');
      if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
      std::string key = line.substr(0, eq), value = line.substr(eq + 1);
      key.erase(key.find_last_not_of(' ') + 1);
      const auto q1 = value.find('"'), q2 = value.rfind('"');
      if (q1 == std::string::npos || q2 <= q1) continue;
      value = value.substr(q1 + 1, q2 - q1 - 1);
      if (key == "out") out = value;
      if (key == "synth-dir") synth_dir = value;
    }
    ASSERT_FALSE(out.empty()) << entry.path();
    // cmd_rare.cpp's default: OUT/synth.
    const fs::path synth = (synth_dir.empty() ? fs::path(out) / "synth" : fs::path(synth_dir))
                               .lexically_normal();
    const auto [it, fresh] = owner.emplace(synth, entry.path().filename().string());
    EXPECT_TRUE(fresh) << entry.path().filename() << " and " << it->second << " share " << synth;
  }
  EXPECT_GE(configs, 2);
}

}  // namespace
}  // namespace fedsign::experiments
