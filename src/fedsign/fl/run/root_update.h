// FLTrust's server side (robust rule fltrust, robust_rules.h fltrust()): each round the server
// trains the global model on its own small clean root set with the instructions the clients of
// that round got (learning rate, local epochs or steps), exactly as a LocalClient would, and the
// change is the reference direction the clients' updates are scored against. The paper
// (Cao et al. 2021) draws the root set uniformly from the training distribution; about 100
// images suffice. Used by `fl simulate` and by `fl server` given --data.
#pragma once

#include <cstdint>

#include "fedsign/data/image_set.h"
#include "fedsign/fl/robust/robust_strategy.h"
#include "fedsign/train/train_config.h"

namespace fedsign::fl {

// `count` images of `pool` drawn uniformly without replacement (all of it when count >= its size),
// in pool order, from the run's `seed` on a stream of their own: the same root set in `fl simulate`
// and `fl server` for the same seed and split.
data::Indices sample_root_set(const data::Indices& pool, int64_t count, uint64_t seed);

// The server update over `root` (images of `set`, which must outlive the function). `config`
// gives model, batch size, optimizer, augmentation and seed; the model instance is created on
// first use (after the run seeded torch).
robust::ServerUpdateFn make_root_update(const data::ImageSet& set, data::Indices root,
                                        const train::TrainConfig& config, int64_t num_classes = 43);

// A model's predicted labels for `root` (images of `set`, which must outlive the function) and
// their true labels, for the cosine filter's label test (--label-test); evaluated as the clients
// evaluate (config's precision and batch size), on a model instance of its own.
robust::RootLabelsFn make_root_labels(const data::ImageSet& set, data::Indices root,
                                      const train::TrainConfig& config, int64_t num_classes = 43);

}  // namespace fedsign::fl
