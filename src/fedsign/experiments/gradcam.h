// Class-activation heatmaps: Grad-CAM (Selvaraju et al. 2017) over any Classifier's last
// feature map, and plain CAM (Zhou et al. 2016) for models whose embedding is the global
// average of that map followed by a linear head (compact, resnet).
//
// Grad-CAM: A = feature_map(x), score = logit of the target class, alpha_k = spatial mean of
// d score / d A_k, heat = ReLU(sum_k alpha_k A_k). CAM: heat = ReLU(sum_k W_ck A_k) with the
// head's weights. Both are upsampled bilinearly to the input's H x W and divided by their
// maximum, so values are in [0, 1] (all zero if nothing is positive). For a GAP + linear model
// alpha_k = W_ck / (h w), so the two agree exactly after normalization.
// Runs the model in eval mode (restored afterwards), fp32. Not thread-safe (uses the model).
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "fedsign/models/classifier.h"

namespace fedsign::experiments {

enum class CamMethod { kGradCam, kCam };

CamMethod parse_cam_method(const std::string& name);  // "gradcam" | "cam"
std::string to_string(CamMethod method);

struct CamResult {
  torch::Tensor heatmaps;              // N x H x W float32 in [0, 1]
  std::vector<int64_t> target_class;   // the class each heatmap explains
  std::vector<int64_t> predicted;      // the model's top class
  std::vector<float> confidence;       // softmax probability of `predicted`
  std::vector<float> target_probability;
};

// `input`: N x 3 x H x W, normalized as for the model (train::normalize). target_class < 0:
// explain each image's predicted class. Throws fedsign::Error for plain CAM on a model whose
// head is not linear on a global average of the feature map (use Grad-CAM there).
CamResult compute_cam(models::Classifier& model, const torch::Tensor& input, CamMethod method,
                      int64_t target_class = -1);

}  // namespace fedsign::experiments
