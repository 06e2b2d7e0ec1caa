#include "fedsign/train/predictor.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "fedsign/core/check.h"
#include "fedsign/data/image_bytes.h"
#include "fedsign/data/sign_names.h"
#include "fedsign/train/batch.h"
#include "fedsign/train/evaluate.h"
#include "fedsign/train/int8_model.h"
#include "fedsign/train/trainer.h"

namespace fedsign::train {

Predictor::Predictor(LoadedModel loaded, const std::string& precision)
    : loaded_(std::move(loaded)),
      mode_(resolve_compute_mode(precision == "int8" ? "fp32" : precision, "auto")) {
  FEDSIGN_CHECK(loaded_.model != nullptr, "{}: no model loaded", loaded_.weights_file.string());
  if (precision == "int8") int8_ = load_int8_model(loaded_);
  apply_memory_format(*loaded_.model, mode_.channels_last);
  loaded_.model->eval();
  load_.size = loaded_.info.input_size;
  load_.contrast = data::parse_contrast(loaded_.info.contrast);
  load_.progress = false;
}

std::size_t Predictor::image_bytes() const {
  return static_cast<std::size_t>(load_.size) * load_.size * 3;
}

std::string Predictor::decode(const std::filesystem::path& file, std::uint8_t* out,
                              const data::Roi* roi) const {
  return data::decode_image(file, roi, load_, out);
}

std::string Predictor::decode(const std::uint8_t* bytes, std::size_t size, std::uint8_t* out,
                              const data::Roi* roi) const {
  return data::decode_image_bytes(bytes, size, roi, load_, out);
}

std::vector<std::vector<ClassScore>> Predictor::classify(const std::uint8_t* pixels,
                                                         int64_t count, int k) const {
  FEDSIGN_CHECK(count > 0, "classify: no images");
  k = std::clamp<int>(k, 1, static_cast<int>(loaded_.info.num_classes));
  torch::NoGradGuard no_grad;
  auto x = image_to_input(pixels, load_.size, load_.size, count);
  if (mode_.channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
  torch::Tensor logits;
  if (int8_) {
    logits = int8_->forward(x);
  } else {
    AutocastScope autocast(mode_);
    logits = loaded_.model->forward(x);
  }
  auto [probabilities, classes] = torch::softmax(logits.to(torch::kFloat32), 1).topk(k, 1);
  const auto class_of = classes.accessor<int64_t, 2>();
  const auto probability_of = probabilities.accessor<float, 2>();
  std::vector<std::vector<ClassScore>> out(static_cast<std::size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    out[i].reserve(k);
    for (int j = 0; j < k; ++j) {
      out[i].push_back({static_cast<int>(class_of[i][j]), probability_of[i][j]});
    }
  }
  return out;
}

nlohmann::json scores_json(const std::vector<ClassScore>& scores) {
  nlohmann::json top = nlohmann::json::array();
  for (const auto& s : scores) {
    top.push_back({{"class", s.class_id},
                   {"name", data::sign_name(s.class_id)},
                   {"confidence", s.confidence}});
  }
  return top;
}

}  // namespace fedsign::train
