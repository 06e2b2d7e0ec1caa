// split_by_track(): whole tracks per side, stratified by class, seeded and deterministic.
#include "fedsign/data/split.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "tests/testing/errors.h"

namespace fedsign::data {
namespace {

// Labels/tracks only (the split never looks at pixels). Class c has min_tracks + c % 8 tracks
// of 5..30 frames; images are interleaved so track members are not contiguous.
ImageSet make_set(int classes = 43, int min_tracks = 1) {
  ImageSet set;
  std::mt19937_64 rng(5);
  std::vector<std::pair<std::int32_t, std::int64_t>> items;
  for (int c = 0; c < classes; ++c) {
    for (int t = 0; t < min_tracks + c % 8; ++t) {
      const int frames = 5 + static_cast<int>(rng() % 26);
      for (int f = 0; f < frames; ++f) items.emplace_back(c, c * 100000 + t);
    }
  }
  std::shuffle(items.begin(), items.end(), rng);
  for (const auto& [label, track] : items) {
    set.labels.push_back(label);
    set.tracks.push_back(track);
  }
  return set;
}

TEST(TrackSplit, NoTrackOnBothSidesAndEveryImageOnce) {
  const ImageSet set = make_set();
  const TrackSplit split = split_by_track(set, 0.2, 1);
  std::set<std::int64_t> train_tracks, validation_tracks;
  for (auto i : split.train) train_tracks.insert(set.tracks[i]);
  for (auto i : split.validation) validation_tracks.insert(set.tracks[i]);
  for (auto t : validation_tracks) EXPECT_EQ(train_tracks.count(t), 0u) << t;
  EXPECT_TRUE(std::is_sorted(split.train.begin(), split.train.end()));
  EXPECT_TRUE(std::is_sorted(split.validation.begin(), split.validation.end()));
  Indices all = split.train;
  all.insert(all.end(), split.validation.begin(), split.validation.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, all_indices(set));
}

TEST(TrackSplit, EveryClassWithTwoTracksIsValidated) {
  const ImageSet set = make_set();
  const TrackSplit split = split_by_track(set, 0.1, 3);
  const auto train = class_counts(set, split.train);
  const auto validation = class_counts(set, split.validation);
  for (int c = 0; c < 43; ++c) {
    const int tracks = 1 + c % 8;
    EXPECT_GT(train[c], 0) << "class " << c;
    if (tracks >= 2) {
      EXPECT_GT(validation[c], 0) << "class " << c;
    } else {
      EXPECT_EQ(validation[c], 0) << "single-track class " << c << " stays in train";
    }
  }
}

TEST(TrackSplit, FractionIsApproximatelyRight) {
  const ImageSet set = make_set(43, 12);  // GTSRB has ~15-75 tracks per class
  for (double fraction : {0.1, 0.2, 0.3}) {
    const TrackSplit split = split_by_track(set, fraction, 11);
    const double actual = static_cast<double>(split.validation.size()) / set.size();
    EXPECT_NEAR(actual, fraction, 0.03) << fraction;
  }
}

TEST(TrackSplit, SeededAndDeterministic) {
  const ImageSet set = make_set();
  const TrackSplit a = split_by_track(set, 0.2, 42);
  const TrackSplit b = split_by_track(set, 0.2, 42);
  const TrackSplit c = split_by_track(set, 0.2, 43);
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.validation, b.validation);
  EXPECT_NE(a.validation, c.validation);
}

TEST(TrackSplit, ZeroFractionKeepsEverythingInTrain) {
  const ImageSet set = make_set(5);
  const TrackSplit split = split_by_track(set, 0.0, 1);
  EXPECT_TRUE(split.validation.empty());
  EXPECT_EQ(split.train, all_indices(set));
}

TEST(TrackSplit, RejectsFractionOutsideRange) {
  const ImageSet set = make_set(3);
  EXPECT_ERROR(split_by_track(set, 1.0, 1), "validation fraction must be in [0, 1), got 1");
  EXPECT_ERROR(split_by_track(set, -0.1, 1), "validation fraction must be in [0, 1)");
}

// The three-way split (--test-fraction): disjoint by track, shares about right, and the test
// split fixed by the seed alone, whatever the validation share.
TEST(TrackSplit, ThreeWayTestSplitIsDisjointAndIndependentOfValidation) {
  const ImageSet set = make_set(43, 12);
  const TrackSplit a = split_by_track(set, 0.2, 7, 0.1);
  std::map<std::int64_t, int> side;  // track -> 0 train, 1 validation, 2 test
  auto mark = [&](const Indices& part, int which) {
    for (auto i : part) {
      auto [it, inserted] = side.emplace(set.tracks[i], which);
      EXPECT_EQ(it->second, which) << "track " << set.tracks[i] << " on two sides";
    }
  };
  mark(a.train, 0);
  mark(a.validation, 1);
  mark(a.test, 2);
  Indices all = a.train;
  all.insert(all.end(), a.validation.begin(), a.validation.end());
  all.insert(all.end(), a.test.begin(), a.test.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, all_indices(set)) << "every image exactly once";
  EXPECT_TRUE(std::is_sorted(a.test.begin(), a.test.end()));
  const double n = static_cast<double>(set.size());
  EXPECT_NEAR(a.test.size() / n, 0.1, 0.03);
  EXPECT_NEAR(a.validation.size() / n, 0.2, 0.03) << "validation is a share of all images";
  const auto test_counts = class_counts(set, a.test);
  for (int c = 0; c < 43; ++c) EXPECT_GT(test_counts[c], 0) << "class " << c << " is tested";

  // Another validation share (what a user tunes) moves no image into or out of the test split.
  for (double validation : {0.0, 0.1, 0.3}) {
    EXPECT_EQ(split_by_track(set, validation, 7, 0.1).test, a.test) << validation;
  }
  EXPECT_NE(split_by_track(set, 0.2, 8, 0.1).test, a.test) << "the seed draws it";
  // No test fraction: exactly the two-way split every earlier figure was measured on.
  const TrackSplit two_way = split_by_track(set, 0.2, 7);
  const TrackSplit zero = split_by_track(set, 0.2, 7, 0.0);
  EXPECT_TRUE(zero.test.empty());
  EXPECT_EQ(zero.train, two_way.train);
  EXPECT_EQ(zero.validation, two_way.validation);
  EXPECT_ERROR(split_by_track(set, 0.6, 7, 0.4), "test fraction must be >= 0 and leave images");
  EXPECT_ERROR(split_by_track(set, 0.2, 7, -0.1), "test fraction must be >= 0");
}

TEST(TrackSplit, TestImagesWithOwnTracksSplitPerImage) {
  ImageSet set;
  for (int i = 0; i < 100; ++i) {
    set.labels.push_back(i % 2);
    set.tracks.push_back(1000000000 + i);
  }
  const TrackSplit split = split_by_track(set, 0.25, 9);
  EXPECT_NEAR(static_cast<double>(split.validation.size()), 25.0, 2.0);
}

}  // namespace
}  // namespace fedsign::data
