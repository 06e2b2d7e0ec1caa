// Model weights as federated learning moves them around: every parameter AND buffer of a
// Classifier, by state-dict name, in the model's fixed order (parameters, then buffers).
//
// Weights own no model and know nothing of one; tensors are CPU, contiguous and shared handles
// (copying a Weights copies no data). Functions here never modify their inputs in place, so a
// Weights handed to several clients can be shared safely. Float tensors are float32; BatchNorm's
// `num_batches_tracked` stays int64 and is averaged in double precision and rounded.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "fedsign/models/classifier.h"

namespace fedsign::fl {

struct Weights {
  std::vector<std::string> names;
  std::vector<torch::Tensor> tensors;

  std::size_t size() const { return tensors.size(); }
  bool empty() const { return tensors.empty(); }
  int64_t numel() const;  // total number of values
  int64_t bytes() const;
};

// Copies (detached, contiguous) of all parameters and buffers of `model`.
Weights get_weights(const models::Classifier& model);

// Copies `weights` into `model`. Validates every name, shape and dtype first (nothing is copied
// if one is wrong) and throws fedsign::Error naming the tensor.
void set_weights(models::Classifier& model, const Weights& weights);

// BatchNorm running statistics (running_mean, running_var, num_batches_tracked), recognized by
// their state-dict suffix, which every torch BatchNorm module uses. They are not trained by
// gradients: server optimizers average them instead of stepping them, and SCAFFOLD keeps no
// control variates for them.
bool is_running_statistic(const std::string& name);

// FedBN: which tensors belong to BatchNorm modules (found by module type, since names such as
// `stage1.1.weight` do not say so): the affine weight and bias AND the running statistics, as in
// Li et al. 2021 ("FedBN"), which keeps all BN layers local. mask[i] refers to weights.names[i].
std::vector<bool> batchnorm_mask(const models::Classifier& model, const Weights& weights);

// Throws fedsign::Error unless `a` and `b` have the same names, shapes and dtypes in order.
void check_same_layout(const Weights& a, const Weights& b, const std::string& what);

// Element-wise arithmetic: pure functions returning new tensors, float32 for float inputs.
Weights zeros_like(const Weights& w);
Weights clone(const Weights& w);
Weights add(const Weights& a, const Weights& b);
Weights sub(const Weights& a, const Weights& b);
Weights scale(const Weights& a, double factor);
// Only the tensors whose mask entry is true, in order.
Weights select(const Weights& w, const std::vector<bool>& mask);
// The tensors that gradients train (everything but running statistics and integer tensors).
std::vector<bool> trainable_mask(const Weights& w);
// Largest absolute difference over all tensors (0 for identical weights).
double max_abs_diff(const Weights& a, const Weights& b);
bool equal(const Weights& a, const Weights& b);  // bitwise, names included

}  // namespace fedsign::fl
