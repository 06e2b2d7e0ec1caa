// The work behind POST /v1/classify and POST /v1/detect, apart from HTTP plumbing (service.cpp):
// reading the images and parameters out of a request, decoding, batching, and the JSON answers.
// Failures the client caused throw HttpError with the status and a one-line reason.
#pragma once

#include <optional>
#include <semaphore>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fedsign/data/gtsrb_reader.h"
#include "fedsign/serve/service.h"

namespace httplib {
struct Request;
}

namespace fedsign::serve {

struct HttpError : std::runtime_error {
  HttpError(int status, const std::string& reason) : std::runtime_error(reason), status(status) {}
  int status;
};

// "x1,y1,x2,y2" (inclusive pixels, as in the GTSRB CSVs) -> Roi; HttpError 400 otherwise.
data::Roi parse_roi(const std::string& text);

struct ClassifyInput {
  std::vector<std::string_view> images;          // encoded bytes, views into the request
  std::vector<std::optional<data::Roi>> rois;    // one per image
  int top_k = 3;
};

// Raw body = one image (?roi=, ?top_k=); multipart/form-data = `image` parts (+ `roi` parts).
ClassifyInput read_classify_input(const httplib::Request& req, const ServeOptions& options);

// The answer body of /v1/classify (JSON); 400/413/503/500 as HttpError.
std::string classify(const httplib::Request& req, const ServeOptions& options,
                     const ModelStore& store, MicroBatcher& batcher);

// The answer body of /v1/detect (JSON). `gate` bounds how many detections run at once (they
// run on the HTTP thread, next to the inference workers); 503 when none frees up in time.
std::string detect(const httplib::Request& req, const ServeOptions& options,
                   const ModelStore& store, std::counting_semaphore<>& gate);

// {"version": 3, "checksum": "...", "loaded_at": 1764672000.1}
std::string model_json(const ServedModel& model);

}  // namespace fedsign::serve
