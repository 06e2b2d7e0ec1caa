// Inference with a trained model bundle: what `fedsign predict` and `fedsign serve` share, so
// that both decode, normalize and classify an image the same way (same answers).
//
// A Predictor owns a loaded model set to eval mode, in the compute mode (fp32, or bf16 autocast
// + channels-last) chosen at construction. classify() only reads the model, under NoGradGuard
// and a thread-local autocast scope, so several threads may call it at once.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fedsign/data/image_loader.h"
#include "fedsign/models/int8_compact.h"
#include "fedsign/train/model_bundle.h"
#include "fedsign/train/precision.h"

namespace fedsign::train {

struct ClassScore {
  int class_id = -1;
  float confidence = 0;  // softmax probability
};

class Predictor {
 public:
  // precision: auto | fp32 | bf16 (see resolve_compute_mode), or int8 (a compact model with the
  // ranges `fedsign quantize` saved: train/int8_model.h); sets the model's memory format.
  Predictor(LoadedModel loaded, const std::string& precision);

  const LoadedModel& loaded() const { return loaded_; }
  const ComputeMode& mode() const { return mode_; }
  bool int8() const { return int8_ != nullptr; }
  // How images must be decoded for this model (size, contrast; ROI crop on).
  const data::LoadOptions& load_options() const { return load_; }
  // Bytes of one decoded image: input_size^2 * 3.
  std::size_t image_bytes() const;

  // Decodes an image file or encoded bytes into `out` (image_bytes()); returns why it failed,
  // empty on success.
  std::string decode(const std::filesystem::path& file, std::uint8_t* out,
                     const data::Roi* roi = nullptr) const;
  std::string decode(const std::uint8_t* bytes, std::size_t size, std::uint8_t* out,
                     const data::Roi* roi = nullptr) const;

  // The `k` most likely classes (k clamped to [1, classes]) of each of `count` decoded images
  // laid out back to back, most likely first.
  std::vector<std::vector<ClassScore>> classify(const std::uint8_t* pixels, int64_t count,
                                                int k) const;

 private:
  LoadedModel loaded_;
  ComputeMode mode_;
  std::shared_ptr<const models::Int8Compact> int8_;  // set: int8 inference instead of model
  data::LoadOptions load_;
};

// [{"class": c, "name": "...", "confidence": p}, ...], the answer format of predict and serve.
nlohmann::json scores_json(const std::vector<ClassScore>& scores);

}  // namespace fedsign::train
