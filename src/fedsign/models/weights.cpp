// Weights files are a pickled Dict[str, Tensor] in PyTorch's zip container (torch::pickle_save),
// the same format Python's `torch.save(dict(model.state_dict()), path)` writes; files Python
// saved as `torch.save(model.state_dict(), path)` (an OrderedDict) are read too
// (python_state_dict.h), so files move both ways between fedsign and Python without conversion.
#include "fedsign/models/weights.h"

#include <spdlog/spdlog.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/serialize.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/models/layers.h"
#include "fedsign/models/python_state_dict.h"

namespace fedsign::models {
namespace fs = std::filesystem;

namespace {

std::map<std::string, torch::Tensor> read_state_dict(const fs::path& file) {
  const std::string where = file.string();
  FEDSIGN_CHECK(fs::is_regular_file(file), "{}: no such weights file", where);
  std::ifstream in(file, std::ios::binary);
  FEDSIGN_CHECK(in.good(), "{}: cannot open for reading", where);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  const std::string not_weights =
      fmt::format("{}: truncated or not a fedsign/torch weights file", where);
  torch::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const std::exception& error) {
    spdlog::debug("{}: pickle_load failed: {}", where, error.what());
  }
  if (!value.isGenericDict()) {
    // torch.save(module.state_dict()): an OrderedDict, which pickle_load reads as None or
    // rejects; read it through the rewriting reader.
    try {
      value = load_python_state_dict(bytes);
    } catch (const std::exception& error) {
      spdlog::debug("{}: reading it as a Python state dict failed: {}", where, error.what());
      throw Error(not_weights);
    }
  }
  FEDSIGN_CHECK(value.isGenericDict(), "{}", not_weights);
  std::map<std::string, torch::Tensor> state;
  for (const auto& entry : value.toGenericDict()) {
    FEDSIGN_CHECK(entry.key().isString() && entry.value().isTensor(),
                  "{}: not a state dict (expected str -> Tensor entries)", where);
    state.emplace(entry.key().toStringRef(), entry.value().toTensor());
  }
  return state;
}

}  // namespace

std::vector<std::pair<std::string, torch::Tensor>> state_tensors(const Classifier& model) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& item : model.named_parameters()) tensors.emplace_back(item.key(), item.value());
  for (const auto& item : model.named_buffers()) tensors.emplace_back(item.key(), item.value());
  return tensors;
}

void save_weights(const Classifier& model, const fs::path& file) {
  c10::Dict<std::string, torch::Tensor> state;
  for (const auto& [name, tensor] : state_tensors(model)) {
    state.insert(name, tensor.detach().to(torch::kCPU).contiguous());
  }
  const std::vector<char> bytes = torch::pickle_save(state);
  write_stream_atomically(file, [&](std::ostream& out) {
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  });
}

void load_weights(Classifier& model, const fs::path& file, const LoadWeightsOptions& options) {
  const std::string where = file.string();
  const auto state = read_state_dict(file);

  // Validate everything first, so a bad file leaves the model untouched.
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;  // (model tensor, file tensor)
  std::vector<std::string> skipped_head, missing;
  size_t used = 0;
  for (const auto& [name, target] : state_tensors(model)) {
    const auto found = state.find(name);
    if (found == state.end()) {
      FEDSIGN_CHECK(!options.strict, "{}: missing tensor '{}'", where, name);
      missing.push_back(name);
      continue;
    }
    ++used;
    const torch::Tensor& source = found->second;
    if (source.sizes() != target.sizes()) {
      if (options.skip_head_mismatch && model.group_of(name) == "head") {
        skipped_head.push_back(fmt::format("{} {} (model {})", name, shape_string(source.sizes()),
                                           shape_string(target.sizes())));
        continue;
      }
      FEDSIGN_FAIL("{}: tensor '{}' has shape {} in the file but {} in the model", where, name,
                   shape_string(source.sizes()), shape_string(target.sizes()));
    }
    copies.emplace_back(target, source);
  }

  {
    torch::NoGradGuard no_grad;
    for (auto& [target, source] : copies) target.copy_(source);
  }

  if (!skipped_head.empty()) {
    spdlog::info("{}: head tensors of another shape kept freshly initialized: {}", where,
                 fmt::join(skipped_head, "; "));
  }
  if (!missing.empty()) {
    spdlog::warn("{}: {} tensor(s) not in the file, left as initialized: {}", where, missing.size(),
                 fmt::join(missing, ", "));
  }
  if (used < state.size()) {
    spdlog::warn("{}: {} tensor(s) in the file not used by the model", where, state.size() - used);
  }
}

namespace {

bool is_batchnorm(const torch::nn::Module& m) {
  return dynamic_cast<const torch::nn::BatchNorm1dImpl*>(&m) != nullptr ||
         dynamic_cast<const torch::nn::BatchNorm2dImpl*>(&m) != nullptr;
}

bool contains(const std::vector<std::string>& groups, const std::string& group) {
  return std::find(groups.begin(), groups.end(), group) != groups.end();
}

// State-dict names of every BatchNorm layer's weight and bias.
std::set<std::string> batchnorm_parameter_names(const Classifier& model) {
  std::set<std::string> names;
  for (const auto& item : model.named_modules()) {
    if (!is_batchnorm(*item.value())) continue;
    for (const auto& p : item.value()->named_parameters(/*recurse=*/false)) {
      names.insert(item.key().empty() ? p.key() : item.key() + "." + p.key());
    }
  }
  return names;
}

}  // namespace

std::vector<bool> trainable_mask(const Classifier& model, const std::vector<std::string>& names,
                                 const std::vector<std::string>& trainable_groups) {
  if (trainable_groups == std::vector<std::string>{"all"}) return std::vector<bool>(names.size(), true);
  std::set<std::string> batchnorm;  // looked up once, only when asked for
  if (contains(trainable_groups, kBatchNormGroup)) batchnorm = batchnorm_parameter_names(model);
  std::vector<bool> mask;
  mask.reserve(names.size());
  for (const auto& name : names) {
    mask.push_back(contains(trainable_groups, model.group_of(name)) || batchnorm.count(name) > 0);
  }
  return mask;
}

void set_trainable_groups(Classifier& model, const std::vector<std::string>& trainable_groups) {
  const auto groups = model.layer_groups();
  const bool all = trainable_groups == std::vector<std::string>{"all"};
  if (!all) {
    for (const auto& group : trainable_groups) {
      if (group == kBatchNormGroup) {
        FEDSIGN_CHECK(!batchnorm_parameter_names(model).empty(),
                      "layer group '{}': this model has no BatchNorm layers", group);
        continue;
      }
      FEDSIGN_CHECK(contains(groups, group), "unknown layer group '{}' (valid: all, {}, {})", group,
                    fmt::join(groups, ", "), kBatchNormGroup);
    }
  }
  auto parameters = model.named_parameters();
  const std::vector<bool> mask = trainable_mask(model, parameters.keys(), trainable_groups);
  for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i].value().requires_grad_(mask[i]);
}

int hold_frozen_statistics(Classifier& model, const std::vector<std::string>& trainable_groups) {
  if (trainable_groups == std::vector<std::string>{"all"}) return 0;
  int held = 0;
  for (const auto& item : model.named_modules()) {
    torch::nn::Module& m = *item.value();
    if (!is_batchnorm(m)) continue;
    // The layer's statistics belong to the group of its stage (that of its own weight's name).
    const std::string weight = item.key().empty() ? "weight" : item.key() + ".weight";
    if (!contains(trainable_groups, model.group_of(weight))) {
      m.eval();
      ++held;
    }
  }
  return held;
}

std::vector<std::string> parse_groups(const std::string& text) {
  std::vector<std::string> groups;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find(',', start), text.size());
    std::string group = text.substr(start, end - start);
    group.erase(0, group.find_first_not_of(' '));
    group.erase(group.find_last_not_of(' ') + 1);
    FEDSIGN_CHECK(!group.empty(), "layer groups '{}': an empty name (comma-separated, e.g. "
                  "\"stage4,head\" or \"all\")", text);
    groups.push_back(group);
    start = end + 1;
  }
  return groups;
}

std::vector<std::string> last_groups(const Classifier& model, int n) {
  FEDSIGN_CHECK(n >= 0, "last_groups: n must be >= 0, got {}", n);
  const auto groups = model.layer_groups();
  const size_t count = std::min(groups.size(), static_cast<size_t>(n));
  return {groups.end() - static_cast<std::ptrdiff_t>(count), groups.end()};
}

}  // namespace fedsign::models
