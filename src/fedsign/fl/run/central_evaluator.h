// Central evaluation of global weights on a held-out, track-disjoint split, for
// StrategyOptions::evaluate_fn. Used alike by the simulation and by the network server (given
// --data), so both report the same "central accuracy".
#pragma once

#include "fedsign/data/image_set.h"
#include "fedsign/fl/strategy/strategy.h"
#include "fedsign/train/train_config.h"

namespace fedsign::fl {

// Evaluates with a model instance of its own, created on first use (after the run seeded torch).
// `set` must outlive the returned function; nullopt for an empty index set.
CentralEvaluateFn make_central_evaluator(const data::ImageSet& set, data::Indices indices,
                                         const train::TrainConfig& config, int64_t num_classes = 43);

}  // namespace fedsign::fl
