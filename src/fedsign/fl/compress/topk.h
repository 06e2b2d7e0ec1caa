// Top-k sparsification of client-to-server updates with error feedback (Stich, Cordonnier and
// Jaggi 2018, "Sparsified SGD with Memory"; Karimireddy et al. 2019): each floating tensor of the
// update keeps only its k = ceil(fraction * numel) largest-magnitude values (index int32 + value
// float32 = 8 bytes each); what was dropped is not lost but kept in the client's residual and
// added to its next update, a = delta + residual, sent = topk(a), residual' = a - sent. Without
// the residual, small coordinates that many clients agree on may never be sent (tested on a toy
// problem in tests/fl/compress_test.cpp). Integer tensors and BatchNorm running statistics
// (weights.h: is_running_statistic) are sent unchanged and have no residual.
// Pure functions, plus ResidualStore (not thread-safe) for the residuals of simulated clients.
#pragma once

#include <torch/types.h>

#include <map>
#include <string>
#include <vector>

#include "fedsign/fl/messages.h"

namespace fedsign::fl::compress {

struct SparseTensor {
  torch::Tensor indices;  // int32, into the flattened tensor, or empty when `raw`
  torch::Tensor values;   // float32 values at indices, or the whole tensor when `raw`
  std::vector<int64_t> shape;
  bool raw = false;       // an integer tensor or running statistic, sent unchanged
  c10::ScalarType dtype = torch::kFloat32;
  int64_t bytes() const;
};

struct SparseWeights {
  std::vector<std::string> names;
  std::vector<SparseTensor> tensors;
  int64_t bytes() const;
};

struct TopKResult {
  SparseWeights sparse;
  Weights residual;  // the sparsified tensors only, in order (what error feedback carries over)
};

// Top-k of delta + residual (residual empty: none, i.e. the first round or no error feedback).
// fraction in (0, 1]. The returned residual is what was left out.
TopKResult topk_compress(const Weights& delta, double fraction, const Weights& residual = {});
Weights densify(const SparseWeights& sparse);

// Residuals of simulated clients between rounds, by client id (the network client keeps its own
// one Weights). Memory grows with the number of clients that have sent: bytes() reports it.
class ResidualStore {
 public:
  const Weights& get(ClientId id) const;  // empty Weights for a client without a residual
  void put(ClientId id, Weights residual) { residuals_[id] = std::move(residual); }
  int64_t bytes() const;
  std::size_t size() const { return residuals_.size(); }

 private:
  std::map<ClientId, Weights> residuals_;
};

}  // namespace fedsign::fl::compress
