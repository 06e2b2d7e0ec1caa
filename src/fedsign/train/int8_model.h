// int8 inference of a trained compact model, end to end (issue 19): calibration on training
// images, the ranges file saved beside the weights, and loading it back for evaluate, predict
// and serve. `fedsign quantize` decides whether int8 is kept: it writes the ranges only when
// int8 reads the validation split within a bound of the float model.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fedsign/data/image_set.h"
#include "fedsign/models/int8_compact.h"
#include "fedsign/train/model_bundle.h"

namespace fedsign::train {

// What `fedsign quantize` measured and saved (JSON beside the weights, see int8_ranges_file).
struct Int8Record {
  models::Int8Ranges ranges;
  std::string weights_checksum;  // XXH3 of the weights file the ranges were measured with
  int64_t calibration_images = 0;
  std::string float_precision;  // the float mode int8 was compared with (bf16 or fp32)
  std::string split;            // where both were scored (validation: a development figure)
  int64_t images = 0;
  double float_accuracy = 0;
  double int8_accuracy = 0;
};

// model.pt -> model.int8.json
std::filesystem::path int8_ranges_file(const std::filesystem::path& weights_file);

// The normalized inputs of the first `max_images` of `indices` (in order), in batches of at most
// `batch_size`: what calibrate_int8 runs over. Throws fedsign::Error when there are none.
std::vector<at::Tensor> calibration_batches(const data::ImageSet& set, const data::Indices& indices,
                                            int64_t max_images, int64_t batch_size,
                                            bool channels_last);

// Ranges of `model` over `indices` of `set` (at most `max_images` of them, in order).
models::Int8Ranges calibrate_int8_on(models::Classifier& model, const data::ImageSet& set,
                                     const data::Indices& indices, int64_t max_images,
                                     int64_t batch_size = 256);

void save_int8_record(const std::filesystem::path& file, const Int8Record& record);

// Reads the record of `loaded`'s weights file. Throws fedsign::Error when it is missing ("run
// fedsign quantize"), malformed, or was measured with other weights (stale).
Int8Record load_int8_record(const LoadedModel& loaded);

// The int8 model of `loaded` from its saved ranges (load_int8_record).
std::shared_ptr<const models::Int8Compact> load_int8_model(const LoadedModel& loaded);

}  // namespace fedsign::train
