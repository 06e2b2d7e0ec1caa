// One entry point for simulated attackers: which attack, how many clients, and its parameters,
// as the CLI's --attack options; the simulation (fl/sim) calls the functions below at the three
// places an attack acts:
//   1. when a client is set up:      attacker set (choose_attackers) and, for label-flip and
//                                    backdoor, poisoned_training_data() instead of its images;
//   2. after a client's fit():       apply_attack() on its FitResult (sign-flip, scale, noise);
//   3. around a round's aggregation: wrap_collusion() on begin_aggregate_fit's result
//                                    (little-is-enough: attackers combine what they observe;
//                                    ColludingStrategy in collusion.h does it for a strategy).
// "abstain" is no attack but its reference: the attackers drop out of every round they are asked
// to (fl/sim/upload_client.cpp), as if a perfect defence removed them and nobody else.
// For the backdoor, backdoor_trigger() + triggered_evaluation_set() (data_poisoning.h) give the
// set on which accuracy is the attack success rate. Pure functions; thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fedsign/data/image_set.h"
#include "fedsign/fl/attack/data_poisoning.h"
#include "fedsign/fl/strategy/strategy.h"

namespace fedsign::fl::attack {

struct AttackOptions {
  std::string kind = "none";     // attack_names()
  double fraction = 0.2;         // share of all clients that attack (fixed for the run)
  // sign-flip: magnitude (0: 1); scale: boost factor (0: 10); noise: standard deviation of the
  // noise sent instead of the update (0: 0.1).
  double scale = 0.0;
  int num_classes = data::kNumGtsrbClasses;  // label-flip: c -> num_classes - 1 - c
  int32_t target_label = 0;      // backdoor: the class triggered images go to
  int trigger_size = 4;          // backdoor: patch width in pixels (bottom-right corner)
  double poison_fraction = 0.5;  // backdoor: share of an attacker's images stamped
  double lie_z = 0.0;            // little-is-enough: z (0: the paper's z_max for n and m)
  bool lie_omniscient = false;   // little-is-enough: attackers see all updates of the round
  uint64_t seed = 0;             // attacker choice, noise, poisoned images
};

std::vector<std::string> attack_names();  // none sign-flip scale noise label-flip backdoor ...
// none and the attacks that act on one client's update alone (sign-flip, scale, noise: what
// apply_attack does); the only ones a network client can run (`fl client --attack`).
std::vector<std::string> update_attack_names();
// Whether the attack poisons data (label-flip, backdoor) rather than updates.
bool is_data_attack(const std::string& kind);
// Throws fedsign::Error naming the bad option.
void validate(const AttackOptions& options);

// round(fraction * num_clients) distinct client ids of 0..num_clients-1, drawn from seed.
std::set<ClientId> choose_attackers(const AttackOptions& options, int64_t num_clients);

// Update attacks (sign-flip, scale, noise): replaces result.weights, given the global model
// the client received; seeded by (seed, round, client). No-op for the other kinds.
void apply_attack(const AttackOptions& options, int64_t round, const Weights& global,
                  FitResult& result);

// Data attacks (label-flip, backdoor): the attacker's poisoned copy of its training images
// `train` (the client then trains on all of it); nullopt for the other kinds.
std::optional<data::ImageSet> poisoned_training_data(const AttackOptions& options,
                                                     const data::ImageSet& set,
                                                     const data::Indices& train, ClientId id);

Trigger backdoor_trigger(const AttackOptions& options);

// little-is-enough: the round's aggregation wrapped by CollusionAggregation (collusion.h);
// `aggregation` itself for the other kinds.
std::unique_ptr<FitAggregation> wrap_collusion(const AttackOptions& options,
                                               std::unique_ptr<FitAggregation> aggregation,
                                               const Weights& global,
                                               const std::set<ClientId>& attackers);

}  // namespace fedsign::fl::attack
