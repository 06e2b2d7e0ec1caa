// FLTrust's server side (robust rule fltrust, robust_rules.h fltrust()): each round the server
// trains the global model on its own small clean root set with the instructions the clients of
// that round got (learning rate, local epochs or steps), exactly as a LocalClient would, and the
// change is the reference direction the clients' updates are scored against. The paper
// (Cao et al. 2021) draws the root set uniformly from the training distribution; about 100
// images suffice. The cosine filter's label test (--label-test) labels the same images with each
// update's model. Used by `fl simulate` and by `fl server` given --data.
#pragma once

#include <cstdint>

#include "fedsign/data/image_set.h"
#include "fedsign/fl/robust/robust_strategy.h"
#include "fedsign/fl/robust/wrap_robust.h"
#include "fedsign/train/train_config.h"

namespace fedsign::fl {

// `count` images of `pool` drawn uniformly without replacement (all of it when count >= its size),
// in pool order, from the run's `seed` on a stream of their own: the same root set in `fl simulate`
// and `fl server` for the same seed and split.
data::Indices sample_root_set(const data::Indices& pool, int64_t count, uint64_t seed);

// Whether `options` need the server's root set: rule fltrust or the label test.
bool needs_server_root(const RobustOptions& options);

// The server's root set for `options` (empty functions when it needs none): options.fltrust_root
// images of `pool` (sample_root_set with config.seed; images of `set`, which must outlive the
// functions), FLTrust's training on them (as a stateless LocalClient with `config`'s model, batch
// size, optimizer and augmentation, and the round's instructions) and a model's labels of them
// (evaluated as the clients evaluate: config's precision and eval batch size). Both share one
// model instance, created on first use (after the run seeded torch).
robust::ServerRoot make_server_root(const RobustOptions& options, const data::ImageSet& set,
                                    const data::Indices& pool, const train::TrainConfig& config,
                                    int64_t num_classes = 43);

}  // namespace fedsign::fl
