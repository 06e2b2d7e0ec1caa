// Dividing a pool of training images among simulated clients, IID or with the standard kinds of
// statistical heterogeneity. The unit of assignment is a whole TRACK (all frames of one
// physical sign): one car sees one sign as a track, so a track never spans two clients.
// Partitions are pure functions of (data, pool, config); the RNG and the Gamma sampler are
// hand-written so a seed gives the same partition with any standard library. No LibTorch.
//
//   iid        tracks shuffled and dealt to the client with the fewest images so far: equal
//              sizes, class mix close to the pool's.
//   dirichlet  label skew (Hsu et al. 2019; NIID-Bench, Li et al. 2022): for each class, shares
//              p ~ Dir_N(alpha) over clients; the class's tracks go to clients by p. Small alpha
//              = few classes per client. With `balance`, clients already above the mean size
//              get no more (NIID-Bench's rule), which keeps sizes comparable.
//   shards     the "pathological" split of McMahan et al. 2017: each client holds exactly k
//              classes (k = shards_per_client) where the data has tracks enough; the classes are
//              dealt so that each is held by about N*k/C clients, which share its tracks.
//   quantity   quantity skew: client sizes ~ log-normal(0, sigma) (or Dir(alpha) shares), labels
//              IID.
//   tracks     shuffled tracks dealt round-robin: client j holds tracks j, j + N, j + 2N, ...
//              Equal track counts (not image counts); with as many clients as tracks, one
//              track per client: one vehicle that saw one sign (the DP experiments' setting).
// Every client gets at least one track when there are as many tracks as clients.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fedsign/data/image_set.h"

namespace fedsign::data {

enum class PartitionKind { kIid, kDirichlet, kShards, kQuantity, kTracks };
// iid | dirichlet | shards | quantity | tracks
PartitionKind parse_partition_kind(const std::string& name);
std::string to_string(PartitionKind kind);

struct PartitionConfig {
  PartitionKind kind = PartitionKind::kIid;
  int64_t num_clients = 10;
  double alpha = 0.5;                 // dirichlet; quantity with dirichlet sizes
  int64_t shards_per_client = 2;      // shards: classes per client
  std::string quantity_sizes = "lognormal";  // quantity: lognormal | dirichlet
  double sigma = 1.0;                 // quantity, lognormal sizes
  bool balance = true;                // dirichlet: NIID-Bench size balancing
  uint64_t seed = 1;
};

// One index vector per client; together they hold every image of `pool` exactly once.
std::vector<data::Indices> partition(const data::ImageSet& set, const data::Indices& pool,
                                     const PartitionConfig& config);

struct PartitionStats {
  int num_classes = 0;
  std::vector<std::vector<int64_t>> counts;  // clients x classes
  std::vector<int64_t> images;               // per client
  std::vector<int64_t> tracks;               // per client
  std::vector<int> classes;                  // classes present per client
  std::vector<double> entropy;               // label entropy per client / log(num_classes)
  std::vector<double> max_share;             // share of the client's largest class
  double mean_entropy = 0, mean_max_share = 0, mean_classes = 0;
  int64_t min_images = 0, max_images = 0;
  double mean_images = 0;
  int64_t empty_clients = 0;
};

PartitionStats partition_stats(const data::ImageSet& set, const std::vector<data::Indices>& parts,
                               int num_classes = data::kNumGtsrbClasses);

// A few lines: kind, sizes, classes per client, skew measures.
std::string describe(const PartitionStats& stats);


}  // namespace fedsign::data
