#include "fedsign/fl/attack/attack_options.h"

#include <algorithm>
#include <cmath>

#include "fedsign/core/check.h"
#include "fedsign/fl/attack/collusion.h"
#include "fedsign/fl/attack/update_attacks.h"
#include "fedsign/fl/client_manager.h"
#include "fedsign/fl/rng.h"

namespace fedsign::fl::attack {

namespace {

// Purposes of the attack's random draws (beyond rng.h's streams, so they never collide).
enum class AttackStream : uint64_t { kChoice = 101, kNoise = 102, kPoison = 103 };

uint64_t attack_seed(uint64_t seed, AttackStream stream, int64_t round, int64_t client) {
  return derive_seed(seed, {static_cast<uint64_t>(stream), static_cast<uint64_t>(round),
                            static_cast<uint64_t>(client)});
}

}  // namespace

std::vector<std::string> attack_names() {
  return {"none",       "sign-flip", "scale",           "noise",
          "label-flip", "backdoor",  "little-is-enough", "abstain"};
}

std::vector<std::string> update_attack_names() { return {"none", "sign-flip", "scale", "noise"}; }

bool is_data_attack(const std::string& kind) { return kind == "label-flip" || kind == "backdoor"; }

void validate(const AttackOptions& o) {
  const auto names = attack_names();
  FEDSIGN_CHECK(std::find(names.begin(), names.end(), o.kind) != names.end(),
                "unknown attack '{}' (one of none, sign-flip, scale, noise, label-flip, "
                "backdoor, little-is-enough, abstain)", o.kind);
  FEDSIGN_CHECK(o.fraction >= 0 && o.fraction <= 1, "--attack-fraction {} not in [0, 1]",
                o.fraction);
  FEDSIGN_CHECK(o.scale >= 0, "--attack-scale {} < 0", o.scale);
  FEDSIGN_CHECK(o.num_classes >= 2, "attack: {} classes", o.num_classes);
  FEDSIGN_CHECK(o.target_label >= 0 && o.target_label < o.num_classes,
                "--backdoor-target {} not in [0, {})", o.target_label, o.num_classes);
  FEDSIGN_CHECK(o.trigger_size >= 1, "backdoor trigger size {} < 1", o.trigger_size);
  FEDSIGN_CHECK(o.poison_fraction >= 0 && o.poison_fraction <= 1,
                "backdoor poison fraction {} not in [0, 1]", o.poison_fraction);
  FEDSIGN_CHECK(o.lie_z >= 0, "little-is-enough z {} < 0", o.lie_z);
}

std::set<ClientId> choose_attackers(const AttackOptions& o, int64_t num_clients) {
  validate(o);
  if (o.kind == "none" || num_clients <= 0) return {};
  const auto count = std::llround(o.fraction * static_cast<double>(num_clients));
  const auto ids = sample_without_replacement(num_clients, count,
                                              attack_seed(o.seed, AttackStream::kChoice, 0, -1));
  return {ids.begin(), ids.end()};
}

void apply_attack(const AttackOptions& o, int64_t round, const Weights& global, FitResult& result) {
  if (o.kind == "sign-flip") {
    result.weights = sign_flip(global, result.weights, o.scale > 0 ? o.scale : 1.0);
  } else if (o.kind == "scale") {
    result.weights = scaled_update(global, result.weights, o.scale > 0 ? o.scale : 10.0);
  } else if (o.kind == "noise") {
    result.weights = gaussian_update(global, result.weights, o.scale > 0 ? o.scale : 0.1,
                                     attack_seed(o.seed, AttackStream::kNoise, round, result.client_id));
  }
}

Trigger backdoor_trigger(const AttackOptions& o) {
  Trigger t;
  t.size = o.trigger_size;
  t.cell = std::max(1, o.trigger_size / 2);
  t.target_label = o.target_label;
  return t;
}

std::optional<data::ImageSet> poisoned_training_data(const AttackOptions& o,
                                                     const data::ImageSet& set,
                                                     const data::Indices& train, ClientId id) {
  if (o.kind == "label-flip") return label_flipped_copy(set, train, reverse_labels(o.num_classes));
  if (o.kind == "backdoor") {
    return backdoor_training_copy(set, train, backdoor_trigger(o), o.poison_fraction,
                                  attack_seed(o.seed, AttackStream::kPoison, 0, id));
  }
  return std::nullopt;
}

std::unique_ptr<FitAggregation> wrap_collusion(const AttackOptions& o,
                                               std::unique_ptr<FitAggregation> aggregation,
                                               const Weights& global,
                                               const std::set<ClientId>& attackers) {
  if (o.kind != "little-is-enough") return aggregation;
  return std::make_unique<CollusionAggregation>(std::move(aggregation), global, attackers, o.lie_z,
                                                o.lie_omniscient);
}

}  // namespace fedsign::fl::attack
