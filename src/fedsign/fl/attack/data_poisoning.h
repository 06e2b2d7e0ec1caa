// Data-poisoning attacks: an attacker trains honestly, but on poisoned data. Label flipping
// (a label map applied to its training images) and a BadNets-style backdoor (Gu et al. 2017:
// a small trigger patch stamped on images, relabelled to a target class; the model learns
// "patch => target" while staying accurate on clean images).
//
// The simulated clients share one ImageSet by index, so an attacker gets a poisoned COPY of its
// own training images (a few hundred images; the shared set is never modified) and trains on all
// of that copy. The backdoor's success is measured on triggered_evaluation_set(): validation
// images of every class but the target, stamped and labelled with the target, so accuracy on it
// is the attack success rate. Pure functions, seeded; thread-safe. Tests: attack_test.cpp.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <functional>

#include "fedsign/data/image_set.h"

namespace fedsign::fl::attack {

using LabelMap = std::function<int32_t(int32_t)>;

// c -> num_classes - 1 - c (every label moves; the usual untargeted flip).
LabelMap reverse_labels(int num_classes);
// source -> target, other labels unchanged (targeted flip, Tolpegin et al. 2020).
LabelMap relabel(int32_t source, int32_t target);

// The images `indices` of `set`, copied as they are (e.g. an attacker's clean local test images
// beside its poisoned training copy).
data::ImageSet image_copy(const data::ImageSet& set, const data::Indices& indices);

// The images `indices` of `set`, copied, with labels mapped.
data::ImageSet label_flipped_copy(const data::ImageSet& set, const data::Indices& indices,
                                  const LabelMap& map);

// A square checkerboard patch (cells of `cell` pixels, white in the top-left cell) `size`
// pixels wide, `margin` pixels from the bottom-right corner, and the class it maps to.
struct Trigger {
  int size = 4;
  int cell = 2;
  int margin = 1;
  int32_t target_label = 0;
};

// Stamps the trigger on image `index` of `set` in place (uint8 RGB: 255 / 0).
void stamp_trigger(data::ImageSet& set, std::size_t index, const Trigger& trigger);

// A stamped copy of a float image batch N x C x H x W (e.g. train::gather_images' [0, 1] values,
// before normalization): `high` on the white cells, `low` on the black ones.
torch::Tensor stamp_trigger(const torch::Tensor& batch, const Trigger& trigger, double high = 1.0,
                            double low = 0.0);

// An attacker's training data: a copy of `indices` in which a fraction `poison_fraction` of the
// images (chosen from `seed`) carry the trigger and the target label; the rest stay clean.
data::ImageSet backdoor_training_copy(const data::ImageSet& set, const data::Indices& indices,
                                      const Trigger& trigger, double poison_fraction,
                                      uint64_t seed);

// The images of `indices` whose label is not the target, stamped and labelled target: the
// accuracy of a model on this set is the backdoor's attack success rate.
data::ImageSet triggered_evaluation_set(const data::ImageSet& set, const data::Indices& indices,
                                        const Trigger& trigger);

}  // namespace fedsign::fl::attack
