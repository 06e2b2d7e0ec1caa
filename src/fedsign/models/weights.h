// Loading weights into a model, head replacement and freezing by layer group.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "fedsign/models/classifier.h"

namespace fedsign::models {

struct LoadWeightsOptions {
  bool strict = true;           // every model parameter/buffer must be in the file
  bool skip_head_mismatch = true;  // head tensors of another shape are left as initialized
};

// Loads a state dict from `file` into `model`. The file is a fedsign model file (written by
// save_weights) or a state dict saved from Python by torch.save: a plain Dict[str, Tensor] (as
// scripts/export_torchvision.py writes) or the OrderedDict of `torch.save(model.state_dict())`,
// the form of torchvision's own weight files (read through python_state_dict.h).
// Throws fedsign::Error naming the file and the first missing or mismatched tensor; a truncated
// file is reported as such. All tensors are validated before any is copied.
void load_weights(Classifier& model, const std::filesystem::path& file,
                  const LoadWeightsOptions& options = {});

// Parameters, then buffers (running_mean/var, num_batches_tracked), by state-dict name: the
// tensors themselves (not copies), in the same order for two instances of one architecture.
std::vector<std::pair<std::string, torch::Tensor>> state_tensors(const Classifier& model);

// Saves all parameters and buffers by name (atomic write).
void save_weights(const Classifier& model, const std::filesystem::path& file);

// A group that cuts across the model's own: the affine parameters (weight and bias) of every
// BatchNorm layer. Its running statistics stay in their stage's group, so with the stage frozen
// the layer normalizes with the pretrained statistics and learns only its scale and shift:
// a few thousand values that adapt a pretrained body to a new domain (e.g. renders -> photos).
inline constexpr const char* kBatchNormGroup = "batchnorm";

// For each tensor name (a parameter or buffer of `model`, by state-dict name): whether it is
// trained when the groups `trainable_groups` are ({"all"}: everything). What the clients'
// freezing, the server's frozen-tensor list and `fedsign models --groups` all go by.
std::vector<bool> trainable_mask(const Classifier& model, const std::vector<std::string>& names,
                                 const std::vector<std::string>& trainable_groups);

// Freezes (requires_grad=false) every parameter outside `trainable_groups` (trainable_mask).
// The special group list {"all"} unfreezes everything; {"head"} is feature extraction.
void set_trainable_groups(Classifier& model, const std::vector<std::string>& trainable_groups);

// Puts every BatchNorm layer whose running statistics are frozen under `trainable_groups` (its
// stage's group is not trained) in evaluation mode, so training neither updates those statistics
// nor normalizes with batch statistics: a frozen layer then computes in training exactly what it
// computes at inference, and with `batchnorm` trained only its scale and shift move. Call after
// model.train(). Returns how many layers it held.
int hold_frozen_statistics(Classifier& model, const std::vector<std::string>& trainable_groups);

// Comma-separated layer groups ("stage4,head", "all") as a list; throws on an empty entry.
std::vector<std::string> parse_groups(const std::string& comma_separated);

// The last `n` groups (e.g. n=2: last block + head), for partial fine-tuning.
std::vector<std::string> last_groups(const Classifier& model, int n);

}  // namespace fedsign::models
