// Partition statistics on a synthetic labelled set (no pixels needed): every pool image lands
// on exactly one client, no track spans two clients, IID is near-uniform, Dirichlet skew grows
// as alpha falls, shards give k classes per client, quantity skew varies sizes, `tracks` deals
// equal track counts, seeds repeat.
#include "fedsign/data/partition.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "fedsign/core/check.h"
#include "fedsign/data/split.h"
#include "fedsign/report/plot.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::data {
namespace {

// `classes` classes x `tracks` tracks per class; track t of a class has 3 + (t % 5) frames.
data::ImageSet labelled_set(int classes, int tracks) {
  data::ImageSet set;
  int64_t track_id = 0;
  for (int c = 0; c < classes; ++c) {
    for (int t = 0; t < tracks; ++t, ++track_id) {
      for (int f = 0; f < 3 + t % 5; ++f) {
        set.labels.push_back(c);
        set.tracks.push_back(track_id);
      }
    }
  }
  set.paths.resize(set.labels.size());
  return set;
}

// The pool: every image of tracks whose id is not a multiple of 7 (a held-out split elsewhere).
data::Indices pool_of(const data::ImageSet& set) {
  data::Indices pool;
  for (std::size_t i = 0; i < set.size(); ++i) {
    if (set.tracks[i] % 7 != 0) pool.push_back(static_cast<int64_t>(i));
  }
  return pool;
}

void expect_valid(const data::ImageSet& set, const data::Indices& pool,
                  const std::vector<data::Indices>& parts, std::size_t clients) {
  ASSERT_EQ(parts.size(), clients);
  std::multiset<int64_t> assigned;
  std::map<int64_t, std::size_t> track_owner;
  for (std::size_t j = 0; j < parts.size(); ++j) {
    EXPECT_FALSE(parts[j].empty()) << "client " << j << " got no track";
    for (int64_t i : parts[j]) {
      assigned.insert(i);
      auto [it, inserted] = track_owner.emplace(set.tracks[static_cast<std::size_t>(i)], j);
      EXPECT_EQ(it->second, j) << "track " << it->first << " on clients " << it->second << " and " << j;
    }
  }
  EXPECT_EQ(assigned, std::multiset<int64_t>(pool.begin(), pool.end()))
      << "every pool image exactly once, nothing else";
}

PartitionConfig config(PartitionKind kind, int64_t clients, uint64_t seed = 3) {
  PartitionConfig c;
  c.kind = kind;
  c.num_clients = clients;
  c.seed = seed;
  return c;
}

TEST(Partition, IidIsNearUniform) {
  const auto set = labelled_set(20, 30);
  const auto pool = pool_of(set);
  const auto parts = partition(set, pool, config(PartitionKind::kIid, 10));
  expect_valid(set, pool, parts, 10);
  const auto stats = partition_stats(set, parts, 20);
  EXPECT_LE(stats.max_images - stats.min_images, 7) << "sizes differ by at most one track";
  EXPECT_GT(stats.mean_entropy, 0.9);
  EXPECT_LT(stats.mean_max_share, 0.15);
  EXPECT_NEAR(stats.mean_classes, 20, 2);
}

TEST(Partition, DirichletSkewGrowsAsAlphaFalls) {
  const auto set = labelled_set(20, 30);
  const auto pool = pool_of(set);
  double previous_entropy = 2, previous_share = 0;
  for (double alpha : {100.0, 1.0, 0.1}) {
    auto c = config(PartitionKind::kDirichlet, 10);
    c.alpha = alpha;
    const auto parts = partition(set, pool, c);
    expect_valid(set, pool, parts, 10);
    const auto stats = partition_stats(set, parts, 20);
    EXPECT_LT(stats.mean_entropy, previous_entropy) << "alpha " << alpha;
    EXPECT_GT(stats.mean_max_share, previous_share) << "alpha " << alpha;
    previous_entropy = stats.mean_entropy;
    previous_share = stats.mean_max_share;
    if (alpha == 100.0) EXPECT_GT(stats.mean_entropy, 0.9);
    if (alpha == 0.1) {
      EXPECT_LT(stats.mean_entropy, 0.6);
      EXPECT_LT(stats.mean_classes, 10);
    }
  }
}

TEST(Partition, ShardsGiveKClassesPerClient) {
  const auto set = labelled_set(20, 30);
  const auto pool = pool_of(set);
  for (int64_t k : {1, 2, 3}) {
    auto c = config(PartitionKind::kShards, 10);
    c.shards_per_client = k;
    const auto parts = partition(set, pool, c);
    expect_valid(set, pool, parts, 10);
    const auto stats = partition_stats(set, parts, 20);
    if (k == 1) continue;  // 10 clients x 1 class cannot hold 20 classes: extras are spread
    for (std::size_t j = 0; j < parts.size(); ++j) EXPECT_EQ(stats.classes[j], k) << "client " << j;
  }
}

TEST(Partition, QuantitySkewVariesSizesNotLabels) {
  const auto set = labelled_set(20, 30);
  const auto pool = pool_of(set);
  auto c = config(PartitionKind::kQuantity, 10);
  c.sigma = 1.0;
  const auto parts = partition(set, pool, c);
  expect_valid(set, pool, parts, 10);
  const auto stats = partition_stats(set, parts, 20);
  EXPECT_GT(stats.max_images, 3 * stats.min_images);
  c.quantity_sizes = "dirichlet";
  c.alpha = 0.5;
  expect_valid(set, pool, partition(set, pool, c), 10);
}

TEST(Partition, TracksDealsWholeTracksRoundRobin) {
  const auto set = labelled_set(5, 8);  // 40 tracks of 3..7 frames, 34 in the pool
  const auto pool = pool_of(set);
  EXPECT_EQ(parse_partition_kind("tracks"), PartitionKind::kTracks);
  // As many clients as tracks: one track per client, whatever its length.
  const auto one_each = partition(set, pool, config(PartitionKind::kTracks, 34));
  expect_valid(set, pool, one_each, 34);
  for (int64_t t : partition_stats(set, one_each, 5).tracks) EXPECT_EQ(t, 1);
  // Fewer clients: track counts differ by at most one (34 = 4 x 4 + 6 x 3), image counts may not.
  const auto c = config(PartitionKind::kTracks, 10);
  const auto ten = partition(set, pool, c);
  expect_valid(set, pool, ten, 10);
  const auto stats = partition_stats(set, ten, 5);
  EXPECT_EQ(*std::min_element(stats.tracks.begin(), stats.tracks.end()), 3);
  EXPECT_EQ(*std::max_element(stats.tracks.begin(), stats.tracks.end()), 4);
  EXPECT_EQ(ten, partition(set, pool, c));
  EXPECT_NE(ten, partition(set, pool, config(PartitionKind::kTracks, 10, 4)));
}

TEST(Partition, SeededAndEveryClientGetsATrack) {
  const auto set = labelled_set(5, 8);  // 40 tracks, 34 in the pool
  const auto pool = pool_of(set);
  auto c = config(PartitionKind::kDirichlet, 30);
  c.alpha = 0.05;
  const auto a = partition(set, pool, c);
  expect_valid(set, pool, a, 30);
  EXPECT_EQ(a, partition(set, pool, c));
  c.seed = 4;
  EXPECT_NE(a, partition(set, pool, c));
  // More clients than tracks: the rest stay empty, nothing is split.
  auto many = config(PartitionKind::kIid, 40);
  const auto parts = partition(set, pool, many);
  EXPECT_EQ(partition_stats(set, parts, 5).empty_clients, 40 - 34);
  EXPECT_THROW(partition(set, pool, config(PartitionKind::kIid, 0)), fedsign::Error);
  EXPECT_THROW(parse_partition_kind("noniid"), fedsign::Error);
}

TEST(Partition, ClientSplitKeepsTracksWhole) {
  const auto set = labelled_set(4, 10);
  const auto pool = pool_of(set);
  const auto parts = partition(set, pool, config(PartitionKind::kIid, 3));
  for (const auto& part : parts) {
    const ClientSplit s = split_client_data(set, part, 0.2, 9);
    EXPECT_FALSE(s.train.empty());
    EXPECT_FALSE(s.test.empty());
    std::set<int64_t> train_tracks, test_tracks;
    for (int64_t i : s.train) train_tracks.insert(set.tracks[static_cast<std::size_t>(i)]);
    for (int64_t i : s.test) test_tracks.insert(set.tracks[static_cast<std::size_t>(i)]);
    for (int64_t t : test_tracks) EXPECT_EQ(train_tracks.count(t), 0u);
    EXPECT_EQ(s.train.size() + s.test.size(), part.size());
    EXPECT_NEAR(static_cast<double>(s.test.size()) / part.size(), 0.2, 0.1);
  }
  EXPECT_TRUE(split_client_data(set, parts[0], 0.0, 1).test.empty());
}

TEST(Partition, HeatmapIsWritten) {
  testing::TempDir tmp;
  const auto set = labelled_set(6, 6);
  auto c = config(PartitionKind::kDirichlet, 8);
  const auto stats = partition_stats(set, partition(set, pool_of(set), c), 6);
  report::save_count_heatmap(tmp / "partition.png", stats.counts, "test", "class", "client");
  EXPECT_GT(std::filesystem::file_size(tmp / "partition.png"), 1000u);
  EXPECT_NE(describe(stats).find("8 clients"), std::string::npos);
}

}  // namespace
}  // namespace fedsign::data
