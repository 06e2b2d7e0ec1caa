#include "fedsign/data/partition.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <queue>
#include <random>

#include "fedsign/core/check.h"
#include "fedsign/data/split.h"

namespace fedsign::data {

namespace {

// Portable random numbers over std::mt19937_64 (whose output the standard fixes).
class Random {
 public:
  explicit Random(uint64_t seed) : rng_(seed) {}
  double uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }
  double uniform_open() { return (static_cast<double>(rng_() >> 11) + 0.5) * 0x1.0p-53; }
  double normal() {  // Box-Muller
    const double u1 = uniform_open(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }
  // log of a Gamma(alpha, 1) draw (Marsaglia-Tsang; alpha < 1 by the boost G(a+1) U^(1/a)),
  // in log space so that tiny alphas do not underflow to 0.
  double log_gamma(double alpha) {
    if (alpha < 1.0) return log_gamma(alpha + 1.0) + std::log(uniform_open()) / alpha;
    const double d = alpha - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
    while (true) {
      double x, v;
      do {
        x = normal();
        v = 1.0 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const double u = uniform_open();
      if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return std::log(d * v);
    }
  }
  std::vector<double> dirichlet(std::size_t n, double alpha) {
    std::vector<double> logs(n);
    for (auto& l : logs) l = log_gamma(alpha);
    const double top = *std::max_element(logs.begin(), logs.end());
    std::vector<double> p(n);
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += p[i] = std::exp(logs[i] - top);
    for (auto& x : p) x /= sum;
    return p;
  }
  template <typename T>
  void shuffle(std::vector<T>& items) {
    for (std::size_t i = items.size(); i > 1; --i) {
      std::swap(items[i - 1], items[static_cast<std::size_t>(rng_() % i)]);
    }
  }

 private:
  std::mt19937_64 rng_;
};

// Deals tracks[order[k]] to clients so that cumulative image counts follow `shares`: a track goes
// to the client whose share interval contains the midpoint of its images.
void deal_by_shares(const std::vector<Track>& tracks, const std::vector<std::size_t>& order,
                    const std::vector<double>& shares, std::vector<std::vector<std::size_t>>& owner) {
  int64_t total = 0;
  for (std::size_t t : order) total += tracks[t].size();
  if (total == 0) return;
  std::vector<double> bounds(shares.size());
  std::partial_sum(shares.begin(), shares.end(), bounds.begin());
  int64_t before = 0;
  for (std::size_t t : order) {
    const double mid = (static_cast<double>(before) + 0.5 * static_cast<double>(tracks[t].size())) /
                       static_cast<double>(total) * bounds.back();
    before += tracks[t].size();
    std::size_t client = static_cast<std::size_t>(
        std::upper_bound(bounds.begin(), bounds.end(), mid) - bounds.begin());
    client = std::min(client, shares.size() - 1);
    owner[client].push_back(t);
  }
}

// Gives every empty client one track from the client with the most tracks (if it has two).
void fill_empty_clients(const std::vector<Track>& tracks, std::vector<std::vector<std::size_t>>& owner) {
  for (std::size_t j = 0; j < owner.size(); ++j) {
    if (!owner[j].empty()) continue;
    std::size_t donor = 0;
    for (std::size_t k = 1; k < owner.size(); ++k) {
      if (owner[k].size() > owner[donor].size()) donor = k;
    }
    if (owner[donor].size() < 2) return;  // fewer tracks than clients
    // Move the donor's smallest track, to disturb its distribution least.
    auto smallest = std::min_element(owner[donor].begin(), owner[donor].end(),
                                     [&](std::size_t a, std::size_t b) {
                                       return tracks[a].size() < tracks[b].size();
                                     });
    owner[j].push_back(*smallest);
    owner[donor].erase(smallest);
  }
}

// Deals tracks (in the given order) each to the eligible client with the fewest images.
void deal_to_smallest(const std::vector<Track>& tracks, const std::vector<std::size_t>& order,
                      const std::vector<std::size_t>& clients, std::vector<int64_t>& sizes,
                      std::vector<std::vector<std::size_t>>& owner) {
  using Entry = std::pair<int64_t, std::size_t>;  // (images, client), smallest first
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> queue;
  for (std::size_t j : clients) queue.push({sizes[j], j});
  for (std::size_t t : order) {
    auto [size, j] = queue.top();
    queue.pop();
    owner[j].push_back(t);
    sizes[j] += tracks[t].size();
    queue.push({sizes[j], j});
  }
}

}  // namespace

PartitionKind parse_partition_kind(const std::string& name) {
  if (name == "iid") return PartitionKind::kIid;
  if (name == "dirichlet") return PartitionKind::kDirichlet;
  if (name == "shards") return PartitionKind::kShards;
  if (name == "quantity") return PartitionKind::kQuantity;
  if (name == "tracks") return PartitionKind::kTracks;
  FEDSIGN_FAIL("unknown partition '{}' (iid, dirichlet, shards, quantity or tracks)", name);
}

std::string to_string(PartitionKind kind) {
  switch (kind) {
    case PartitionKind::kIid: return "iid";
    case PartitionKind::kDirichlet: return "dirichlet";
    case PartitionKind::kShards: return "shards";
    case PartitionKind::kQuantity: return "quantity";
    case PartitionKind::kTracks: return "tracks";
  }
  return "?";
}

std::vector<data::Indices> partition(const data::ImageSet& set, const data::Indices& pool,
                                     const PartitionConfig& config) {
  const auto n = static_cast<std::size_t>(config.num_clients);
  FEDSIGN_CHECK(config.num_clients > 0, "partition: {} clients", config.num_clients);
  const std::vector<Track> tracks = tracks_of(set, pool);
  Random rng(config.seed);
  std::vector<std::vector<std::size_t>> owner(n);  // client -> track positions
  std::vector<std::size_t> order(tracks.size());
  std::iota(order.begin(), order.end(), 0);

  switch (config.kind) {
    case PartitionKind::kIid: {
      rng.shuffle(order);
      std::vector<int64_t> sizes(n, 0);
      std::vector<std::size_t> all(n);
      std::iota(all.begin(), all.end(), 0);
      deal_to_smallest(tracks, order, all, sizes, owner);
      break;
    }
    case PartitionKind::kDirichlet: {
      FEDSIGN_CHECK(config.alpha > 0, "partition: Dirichlet alpha must be > 0, got {}", config.alpha);
      std::map<int32_t, std::vector<std::size_t>> by_class;
      for (std::size_t t = 0; t < tracks.size(); ++t) by_class[tracks[t].label].push_back(t);
      int64_t total = 0;
      for (const auto& t : tracks) total += t.size();
      const double mean_size = static_cast<double>(total) / static_cast<double>(n);
      std::vector<int64_t> sizes(n, 0);
      for (auto& [label, class_tracks] : by_class) {
        rng.shuffle(class_tracks);
        std::vector<double> p = rng.dirichlet(n, config.alpha);
        if (config.balance) {
          std::vector<double> balanced = p;
          double sum = 0;
          for (std::size_t j = 0; j < n; ++j) {
            if (static_cast<double>(sizes[j]) >= mean_size) balanced[j] = 0;
            sum += balanced[j];
          }
          if (sum > 0) p = balanced;
        }
        std::vector<std::vector<std::size_t>> got(n);
        deal_by_shares(tracks, class_tracks, p, got);
        for (std::size_t j = 0; j < n; ++j) {
          for (std::size_t t : got[j]) sizes[j] += tracks[t].size();
          owner[j].insert(owner[j].end(), got[j].begin(), got[j].end());
        }
      }
      break;
    }
    case PartitionKind::kShards: {
      FEDSIGN_CHECK(config.shards_per_client > 0, "partition: {} shards per client",
                    config.shards_per_client);
      std::map<int32_t, std::vector<std::size_t>> by_class;
      for (std::size_t t = 0; t < tracks.size(); ++t) by_class[tracks[t].label].push_back(t);
      std::vector<int32_t> classes;
      for (const auto& [label, unused] : by_class) classes.push_back(label);
      if (classes.empty()) break;
      rng.shuffle(classes);
      const std::size_t c = classes.size();
      const std::size_t k = std::min<std::size_t>(static_cast<std::size_t>(config.shards_per_client), c);
      // Client j holds classes[(j*k + i) % C], i < k: distinct, each class held by about N*k/C.
      std::map<int32_t, std::vector<std::size_t>> holders;
      for (std::size_t j = 0; j < n; ++j) {
        for (std::size_t i = 0; i < k; ++i) holders[classes[(j * k + i) % c]].push_back(j);
      }
      // With N*k < C some classes have no holder: they go to the clients with fewest classes.
      std::vector<std::size_t> extra(n, 0);
      for (int32_t label : classes) {
        if (!holders[label].empty()) continue;
        const auto j = static_cast<std::size_t>(std::min_element(extra.begin(), extra.end()) - extra.begin());
        ++extra[j];
        holders[label].push_back(j);
      }
      for (int32_t label : classes) {
        auto& class_tracks = by_class[label];
        rng.shuffle(class_tracks);
        std::vector<int64_t> sizes(n, 0);  // images of this class per client
        deal_to_smallest(tracks, class_tracks, holders[label], sizes, owner);
      }
      break;
    }
    case PartitionKind::kQuantity: {
      std::vector<double> shares(n);
      if (config.quantity_sizes == "dirichlet") {
        FEDSIGN_CHECK(config.alpha > 0, "partition: Dirichlet alpha must be > 0, got {}", config.alpha);
        shares = rng.dirichlet(n, config.alpha);
      } else {
        FEDSIGN_CHECK(config.quantity_sizes == "lognormal",
                      "partition: quantity sizes '{}' (lognormal or dirichlet)", config.quantity_sizes);
        FEDSIGN_CHECK(config.sigma >= 0, "partition: sigma {} < 0", config.sigma);
        for (auto& s : shares) s = std::exp(config.sigma * rng.normal());
      }
      rng.shuffle(order);
      deal_by_shares(tracks, order, shares, owner);
      break;
    }
    case PartitionKind::kTracks: {
      // Counting tracks, not images: a client is a vehicle, and a vehicle's data is the
      // tracks it recorded, whatever their lengths.
      rng.shuffle(order);
      for (std::size_t k = 0; k < order.size(); ++k) owner[k % n].push_back(order[k]);
      break;
    }
  }
  fill_empty_clients(tracks, owner);

  std::vector<data::Indices> parts(n);
  for (std::size_t j = 0; j < n; ++j) {
    std::sort(owner[j].begin(), owner[j].end());  // pool order within a client
    for (std::size_t t : owner[j]) {
      parts[j].insert(parts[j].end(), tracks[t].images.begin(), tracks[t].images.end());
    }
  }
  return parts;
}

PartitionStats partition_stats(const data::ImageSet& set, const std::vector<data::Indices>& parts,
                               int num_classes) {
  PartitionStats s;
  s.num_classes = num_classes;
  const double log_c = std::log(static_cast<double>(std::max(2, num_classes)));
  for (const auto& part : parts) {
    std::vector<int64_t> counts(static_cast<std::size_t>(num_classes), 0);
    std::vector<int64_t> track_ids;
    for (int64_t i : part) {
      const auto label = set.labels[static_cast<std::size_t>(i)];
      FEDSIGN_CHECK(label >= 0 && label < num_classes, "label {} outside 0..{}", label, num_classes - 1);
      ++counts[static_cast<std::size_t>(label)];
      track_ids.push_back(set.tracks[static_cast<std::size_t>(i)]);
    }
    std::sort(track_ids.begin(), track_ids.end());
    const auto tracks = std::unique(track_ids.begin(), track_ids.end()) - track_ids.begin();
    const auto total = static_cast<int64_t>(part.size());
    double entropy = 0, max_share = 0;
    int classes = 0;
    for (int64_t c : counts) {
      if (c == 0) continue;
      ++classes;
      const double p = static_cast<double>(c) / static_cast<double>(total);
      entropy -= p * std::log(p);
      max_share = std::max(max_share, p);
    }
    s.counts.push_back(counts);
    s.images.push_back(total);
    s.tracks.push_back(tracks);
    s.classes.push_back(classes);
    s.entropy.push_back(entropy / log_c);
    s.max_share.push_back(max_share);
    if (total == 0) ++s.empty_clients;
  }
  const auto n = static_cast<double>(std::max<std::size_t>(1, parts.size()));
  const auto nonempty = static_cast<double>(std::max<int64_t>(1, static_cast<int64_t>(parts.size()) - s.empty_clients));
  for (std::size_t j = 0; j < parts.size(); ++j) {
    if (s.images[j] == 0) continue;
    s.mean_entropy += s.entropy[j] / nonempty;
    s.mean_max_share += s.max_share[j] / nonempty;
    s.mean_classes += s.classes[j] / nonempty;
  }
  if (!parts.empty()) {
    s.min_images = *std::min_element(s.images.begin(), s.images.end());
    s.max_images = *std::max_element(s.images.begin(), s.images.end());
    s.mean_images = static_cast<double>(std::accumulate(s.images.begin(), s.images.end(), int64_t{0})) / n;
  }
  return s;
}

std::string describe(const PartitionStats& s) {
  return fmt::format(
      "{} clients: images per client min {} / mean {:.1f} / max {}{}; classes per client "
      "{:.1f} of {}; label entropy {:.3f} (1 = uniform); largest class share {:.3f}",
      s.images.size(), s.min_images, s.mean_images, s.max_images,
      s.empty_clients ? fmt::format(" ({} empty)", s.empty_clients) : "", s.mean_classes,
      s.num_classes, s.mean_entropy, s.mean_max_share);
}

}  // namespace fedsign::data
