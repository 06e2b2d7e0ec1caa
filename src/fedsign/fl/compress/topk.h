// Top-k sparsification of client-to-server updates with error feedback (Stich, Cordonnier and
// Jaggi 2018, "Sparsified SGD with Memory"; Karimireddy et al. 2019): each floating tensor of the
// update keeps only its k = ceil(fraction * numel) largest-magnitude values (float32, with their
// positions as varint gaps, positions.h: about 5.2 bytes a value at 1%); what was dropped is not
// lost but kept in the client's residual and added to its next update, a = delta + residual,
// sent = topk(a), residual' = a - sent. Without the residual, small coordinates that many clients
// agree on may never be sent (tested on a toy problem in tests/fl/compress_test.cpp). Integer
// tensors, BatchNorm running statistics (weights.h: is_running_statistic) and, by
// TopKRule::dense_up_to, small floating tensors are sent whole, as their delta, and have no
// residual.
// Pure functions; the residual lives in the client's state (fl::ClientState::residual).
#pragma once

#include <torch/types.h>

#include <optional>
#include <string>
#include <vector>

#include "fedsign/fl/messages.h"

namespace fedsign::fl::compress {

struct SparseTensor {
  torch::Tensor indices;  // int32, ascending, into the flattened tensor, or empty when `raw`
  torch::Tensor values;   // float32 values at indices, or the whole tensor when `raw`
  std::vector<int64_t> shape;
  bool raw = false;       // not sparsified (TopKRule::sparsifies): sent unchanged
  c10::ScalarType dtype = torch::kFloat32;
  int64_t bytes() const;  // on the wire: the values and the positions' varint gaps (positions.h)
};

struct SparseWeights {
  std::vector<std::string> names;
  std::vector<SparseTensor> tensors;
  int64_t bytes() const;
};

// Which tensors are sparsified and how many of their values are sent.
struct TopKRule {
  // Both stated: the product's default size lives in CompressOptions alone (upload.h: topk_rule).
  TopKRule(double fraction, int64_t dense_up_to) : fraction(fraction), dense_up_to(dense_up_to) {}
  double fraction;  // in (0, 1]
  // Floating tensors of at most this many values are sent whole. Per-tensor top-1% sends one
  // value of a 32-channel BatchNorm scale and 9 of a first 3x3 conv's 864: such tensors barely
  // move, while sending them whole costs little (the compact CNN's 2,315 values of this kind,
  // 9 KB, against its 0.6 M).
  int64_t dense_up_to;
  // Whether tensor `name` (of `numel` values, floating or not) is sparsified.
  bool sparsifies(const std::string& name, bool floating, int64_t numel) const;
  // k for a tensor of `numel` values: ceil(fraction * numel), at least 1 and at most numel.
  int64_t count(int64_t numel) const;
};

struct TopKResult {
  SparseWeights sparse;
  Weights residual;  // the sparsified tensors only, in order (what error feedback carries over)
};

// Positions (int64, ascending) of the k largest magnitudes of `values` (flattened; NaN counts as
// the largest); among values equal to the k-th largest, the first positions.
torch::Tensor largest_magnitudes(const torch::Tensor& values, int64_t k);

// Top-k of delta + residual (residual empty: none, i.e. the first round or no error feedback).
// The returned residual is what was left out.
TopKResult topk_compress(const Weights& delta, const TopKRule& rule, const Weights& residual = {});
Weights densify(const SparseWeights& sparse);

// Error feedback under a learning-rate schedule: a residual is kept per unit of the local
// learning rate and rejoins a later update at that round's rate. Its values were trained at the
// rates of the rounds they came from; where a schedule has lowered the rate since, they would
// land on a model that has moved on as steps far larger than its own (a top-1% GTSRB run
// collapsed from 71.5% to 37.6% as its cosine schedule ran out). Under a constant rate this is
// plain error feedback. A round without a rate (lr <= 0) keeps the residual as it is.
struct FeedbackRate {
  explicit FeedbackRate(double lr) : rate(lr > 0 ? lr : 1.0) {}
  // What joins this round's update (empty: no residual yet).
  Weights rejoin(const std::optional<Weights>& kept) const;
  // What to keep of the residual this round leaves out.
  Weights keep(const Weights& left) const;
  double rate;
};


}  // namespace fedsign::fl::compress
