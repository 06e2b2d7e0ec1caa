#include "fedsign/fl/weights.h"

#include <torch/nn/modules/batchnorm.h>

#include <set>

#include "fedsign/core/check.h"

namespace fedsign::fl {

namespace {

std::string shape_string(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? "x" : "") + std::to_string(t.size(d));
  return s + "]";
}

torch::Tensor detached_copy(const torch::Tensor& t) {
  return t.detach().to(torch::kCPU).clone(at::MemoryFormat::Contiguous);
}

template <typename Op>
Weights elementwise(const Weights& a, const Weights& b, const char* what, Op op) {
  check_same_layout(a, b, what);
  Weights out;
  out.names = a.names;
  out.tensors.reserve(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) out.tensors.push_back(op(a.tensors[i], b.tensors[i]));
  return out;
}

// Integer tensors (num_batches_tracked) go through double and are rounded back.
torch::Tensor to_dtype_of(const torch::Tensor& value, const torch::Tensor& like) {
  if (like.is_floating_point()) return value.to(like.scalar_type());
  return value.round().to(like.scalar_type());
}

}  // namespace

int64_t Weights::numel() const {
  int64_t n = 0;
  for (const auto& t : tensors) n += t.numel();
  return n;
}

int64_t Weights::bytes() const {
  int64_t n = 0;
  for (const auto& t : tensors) n += t.numel() * static_cast<int64_t>(t.element_size());
  return n;
}

Weights get_weights(const models::Classifier& model) {
  Weights w;
  for (const auto& item : model.named_parameters()) {
    w.names.push_back(item.key());
    w.tensors.push_back(detached_copy(item.value()));
  }
  for (const auto& item : model.named_buffers()) {
    w.names.push_back(item.key());
    w.tensors.push_back(detached_copy(item.value()));
  }
  return w;
}

void set_weights(models::Classifier& model, const Weights& weights) {
  FEDSIGN_CHECK(weights.names.size() == weights.tensors.size(),
                "weights: {} names for {} tensors", weights.names.size(), weights.tensors.size());
  std::vector<torch::Tensor> targets;
  for (const auto& item : model.named_parameters()) targets.push_back(item.value());
  std::vector<std::string> names;
  for (const auto& item : model.named_parameters()) names.push_back(item.key());
  for (const auto& item : model.named_buffers()) {
    names.push_back(item.key());
    targets.push_back(item.value());
  }
  FEDSIGN_CHECK(weights.size() == targets.size(),
                "weights: {} tensors, the model has {} (parameters and buffers)", weights.size(),
                targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto& src = weights.tensors[i];
    FEDSIGN_CHECK(weights.names[i] == names[i], "weights: tensor {} is '{}', the model expects '{}'",
                  i, weights.names[i], names[i]);
    FEDSIGN_CHECK(src.defined(), "weights: tensor '{}' is undefined", names[i]);
    FEDSIGN_CHECK(src.sizes() == targets[i].sizes(), "weights: tensor '{}' has shape {}, the model "
                  "expects {}", names[i], shape_string(src),
                  shape_string(targets[i]));
    FEDSIGN_CHECK(src.is_floating_point() == targets[i].is_floating_point(),
                  "weights: tensor '{}' is {}, the model expects {}", names[i],
                  std::string(c10::toString(src.scalar_type())),
                  std::string(c10::toString(targets[i].scalar_type())));
  }
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < targets.size(); ++i) targets[i].copy_(weights.tensors[i]);
}

bool is_running_statistic(const std::string& name) {
  for (const char* suffix : {"running_mean", "running_var", "num_batches_tracked"}) {
    const std::string s = suffix;
    if (name == s || (name.size() > s.size() && name.ends_with("." + s))) return true;
  }
  return false;
}

std::vector<bool> batchnorm_mask(const models::Classifier& model, const Weights& weights) {
  std::set<std::string> bn;
  for (const auto& item : model.named_modules()) {
    const torch::nn::Module* m = item.value().get();
    if (!dynamic_cast<const torch::nn::BatchNorm1dImpl*>(m) &&
        !dynamic_cast<const torch::nn::BatchNorm2dImpl*>(m) &&
        !dynamic_cast<const torch::nn::BatchNorm3dImpl*>(m)) {
      continue;
    }
    const std::string prefix = item.key().empty() ? "" : item.key() + ".";
    for (const auto& p : m->named_parameters(false)) bn.insert(prefix + p.key());
    for (const auto& b : m->named_buffers(false)) bn.insert(prefix + b.key());
  }
  std::vector<bool> mask(weights.size());
  for (std::size_t i = 0; i < weights.size(); ++i) mask[i] = bn.count(weights.names[i]) > 0;
  return mask;
}

void check_same_layout(const Weights& a, const Weights& b, const std::string& what) {
  FEDSIGN_CHECK(a.size() == b.size(), "{}: {} tensors vs {}", what, a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    FEDSIGN_CHECK(a.names[i] == b.names[i], "{}: tensor {} is '{}' vs '{}'", what, i, a.names[i],
                  b.names[i]);
    FEDSIGN_CHECK(a.tensors[i].sizes() == b.tensors[i].sizes(), "{}: tensor '{}' has shape {} vs {}",
                  what, a.names[i], shape_string(a.tensors[i]),
                  shape_string(b.tensors[i]));
    FEDSIGN_CHECK(a.tensors[i].scalar_type() == b.tensors[i].scalar_type(),
                  "{}: tensor '{}' is {} vs {}", what, a.names[i],
                  std::string(c10::toString(a.tensors[i].scalar_type())),
                  std::string(c10::toString(b.tensors[i].scalar_type())));
  }
}

Weights zeros_like(const Weights& w) {
  Weights out;
  out.names = w.names;
  for (const auto& t : w.tensors) out.tensors.push_back(torch::zeros_like(t));
  return out;
}

Weights clone(const Weights& w) {
  Weights out;
  out.names = w.names;
  for (const auto& t : w.tensors) out.tensors.push_back(t.clone());
  return out;
}

Weights add(const Weights& a, const Weights& b) {
  return elementwise(a, b, "add", [](const torch::Tensor& x, const torch::Tensor& y) {
    return x + y;
  });
}

Weights sub(const Weights& a, const Weights& b) {
  return elementwise(a, b, "sub", [](const torch::Tensor& x, const torch::Tensor& y) {
    return x - y;
  });
}

Weights scale(const Weights& a, double factor) {
  Weights out;
  out.names = a.names;
  for (const auto& t : a.tensors) {
    out.tensors.push_back(t.is_floating_point() ? t * factor
                                                : to_dtype_of(t.to(torch::kFloat64) * factor, t));
  }
  return out;
}

Weights select(const Weights& w, const std::vector<bool>& mask) {
  FEDSIGN_CHECK(mask.size() == w.size(), "select: mask of {} for {} tensors", mask.size(), w.size());
  Weights out;
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (!mask[i]) continue;
    out.names.push_back(w.names[i]);
    out.tensors.push_back(w.tensors[i]);
  }
  return out;
}

std::vector<bool> trainable_mask(const Weights& w) {
  std::vector<bool> mask(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) {
    mask[i] = w.tensors[i].is_floating_point() && !is_running_statistic(w.names[i]);
  }
  return mask;
}

double max_abs_diff(const Weights& a, const Weights& b) {
  check_same_layout(a, b, "max_abs_diff");
  double m = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a.tensors[i].numel() == 0) continue;
    m = std::max(m, (a.tensors[i].to(torch::kFloat64) - b.tensors[i].to(torch::kFloat64))
                        .abs()
                        .max()
                        .item<double>());
  }
  return m;
}

bool equal(const Weights& a, const Weights& b) {
  if (a.names != b.names || a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a.tensors[i].scalar_type() != b.tensors[i].scalar_type() ||
        !torch::equal(a.tensors[i], b.tensors[i])) {
      return false;
    }
  }
  return true;
}

}  // namespace fedsign::fl
