#include "fedsign/train/int8_model.h"

#include <torch/torch.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/core/hash.h"
#include "fedsign/train/batch.h"

namespace fedsign::train {

namespace fs = std::filesystem;

fs::path int8_ranges_file(const fs::path& weights_file) {
  fs::path file = weights_file;
  return file.replace_extension(".int8.json");
}

std::vector<at::Tensor> calibration_batches(const data::ImageSet& set, const data::Indices& indices,
                                            int64_t max_images, int64_t batch_size,
                                            bool channels_last) {
  FEDSIGN_CHECK(batch_size >= 1, "int8 calibration: batch size must be >= 1, got {}", batch_size);
  const std::size_t n = std::min(indices.size(), static_cast<std::size_t>(std::max<int64_t>(max_images, 0)));
  FEDSIGN_CHECK(n > 0, "int8 calibration: no images to calibrate on");
  std::vector<at::Tensor> batches;
  for (std::size_t begin = 0; begin < n; begin += static_cast<std::size_t>(batch_size)) {
    const std::size_t end = std::min(n, begin + static_cast<std::size_t>(batch_size));
    batches.push_back(gather_inputs(set, indices, begin, end, channels_last));
  }
  return batches;
}

models::Int8Ranges calibrate_int8_on(models::Classifier& model, const data::ImageSet& set,
                                     const data::Indices& indices, int64_t max_images,
                                     int64_t batch_size) {
  return models::calibrate_int8(
      model, calibration_batches(set, indices, max_images, batch_size, /*channels_last=*/false));
}

void save_int8_record(const fs::path& file, const Int8Record& r) {
  const nlohmann::json j = {{"format", "fedsign-int8-ranges-1"},
                            {"weights_checksum", r.weights_checksum},
                            {"input_min", r.ranges.input_min},
                            {"input_max", r.ranges.input_max},
                            {"block_max", r.ranges.block_max},
                            {"calibration_images", r.calibration_images},
                            {"float_precision", r.float_precision},
                            {"split", r.split},
                            {"images", r.images},
                            {"float_accuracy", r.float_accuracy},
                            {"int8_accuracy", r.int8_accuracy}};
  write_text_atomically(file, j.dump(2) + "\n");
}

Int8Record load_int8_record(const LoadedModel& loaded) {
  const fs::path file = int8_ranges_file(loaded.weights_file);
  FEDSIGN_CHECK(fs::exists(file),
                "{}: no int8 ranges for this model (run `fedsign quantize {} --data DIR` first)",
                file.string(), loaded.weights_file.string());
  Int8Record r;
  try {
    std::ifstream in(file);
    const auto j = nlohmann::json::parse(in);
    FEDSIGN_CHECK(j.at("format") == "fedsign-int8-ranges-1", "unknown format");
    r.weights_checksum = j.at("weights_checksum").get<std::string>();
    r.ranges.input_min = j.at("input_min").get<double>();
    r.ranges.input_max = j.at("input_max").get<double>();
    r.ranges.block_max = j.at("block_max").get<std::vector<double>>();
    r.calibration_images = j.at("calibration_images").get<int64_t>();
    r.float_precision = j.at("float_precision").get<std::string>();
    r.split = j.at("split").get<std::string>();
    r.images = j.at("images").get<int64_t>();
    r.float_accuracy = j.at("float_accuracy").get<double>();
    r.int8_accuracy = j.at("int8_accuracy").get<double>();
  } catch (const std::exception& e) {
    FEDSIGN_FAIL("{}: malformed int8 ranges ({})", file.string(), e.what());
  }
  FEDSIGN_CHECK(r.weights_checksum == file_checksum(loaded.weights_file),
                "{}: measured with other weights than {} (run `fedsign quantize` again)",
                file.string(), loaded.weights_file.string());
  return r;
}

std::shared_ptr<const models::Int8Compact> load_int8_model(const LoadedModel& loaded) {
  const Int8Record record = load_int8_record(loaded);
  return std::make_shared<const models::Int8Compact>(*loaded.model, record.ranges);
}

}  // namespace fedsign::train
