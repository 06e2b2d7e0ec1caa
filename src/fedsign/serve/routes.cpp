#include "fedsign/serve/routes.h"

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <charconv>

#include "fedsign/train/predictor.h"

namespace fedsign::serve {

namespace {

int parse_int(const std::string& text, const char* what) {
  int value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) {
    throw HttpError(400, fmt::format("{} '{}' is not an integer", what, text));
  }
  return value;
}

nlohmann::json model_object(const ServedModel& model) {
  return {{"version", model.version}, {"checksum", model.checksum}, {"loaded_at", model.loaded_at}};
}

}  // namespace

data::Roi parse_roi(const std::string& text) {
  std::vector<int> v;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = std::min(text.find(',', start), text.size());
    v.push_back(parse_int(text.substr(start, comma - start), "roi coordinate"));
    start = comma + 1;
  }
  if (v.size() != 4) throw HttpError(400, fmt::format("roi '{}' is not x1,y1,x2,y2", text));
  if (v[0] < 0 || v[1] < 0 || v[2] < v[0] || v[3] < v[1]) {
    throw HttpError(400, fmt::format("roi '{}' needs 0 <= x1 <= x2 and 0 <= y1 <= y2", text));
  }
  return {v[0], v[1], v[2], v[3]};
}

ClassifyInput read_classify_input(const httplib::Request& req, const ServeOptions& options) {
  ClassifyInput in;
  in.top_k = req.has_param("top_k") ? parse_int(req.get_param_value("top_k"), "top_k")
                                    : options.top_k;
  if (in.top_k < 1) throw HttpError(400, fmt::format("top_k must be at least 1, got {}", in.top_k));
  if (req.is_multipart_form_data()) {
    std::vector<std::string> rois;
    for (const auto& [name, part] : req.files) {  // multimap: parts of one name in order
      if (name == "image") in.images.emplace_back(part.content);
      if (name == "roi") rois.push_back(part.content);
    }
    if (in.images.empty()) throw HttpError(400, "multipart request without an 'image' part");
    if (!rois.empty() && rois.size() != in.images.size()) {
      throw HttpError(400, fmt::format("{} 'roi' parts for {} images (give one per image or none)",
                                       rois.size(), in.images.size()));
    }
    for (const auto& r : rois) {
      in.rois.push_back(r.empty() ? std::nullopt : std::optional<data::Roi>(parse_roi(r)));
    }
  } else {
    if (req.body.empty()) throw HttpError(400, "empty body: send an image (PNG, JPEG, PPM)");
    in.images.emplace_back(req.body);
    if (req.has_param("roi")) in.rois.emplace_back(parse_roi(req.get_param_value("roi")));
  }
  in.rois.resize(in.images.size());
  if (static_cast<int>(in.images.size()) > options.max_images) {
    throw HttpError(413, fmt::format("{} images in one request, at most {}", in.images.size(),
                                     options.max_images));
  }
  return in;
}

std::string classify(const httplib::Request& req, const ServeOptions& options,
                     const ModelStore& store, MicroBatcher& batcher) {
  const ClassifyInput in = read_classify_input(req, options);
  const auto count = static_cast<std::int64_t>(in.images.size());
  const auto decoder = store.current();  // decode for the version current now
  const std::size_t image_bytes = decoder->predictor.image_bytes();
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(count) * image_bytes);
  batcher.announce();
  for (std::int64_t i = 0; i < count; ++i) {
    const auto& image = in.images[i];
    const data::Roi* roi = in.rois[i] ? &*in.rois[i] : nullptr;
    const std::string problem =
        decoder->predictor.decode(reinterpret_cast<const std::uint8_t*>(image.data()), image.size(),
                                  pixels.data() + i * image_bytes, roi);
    if (!problem.empty()) {
      batcher.withdraw();
      throw HttpError(400, count == 1 ? problem : fmt::format("image {}: {}", i, problem));
    }
  }
  auto future = batcher.submit(std::move(pixels), count, in.top_k);
  if (!future) {
    throw HttpError(503, fmt::format("inference queue full ({} images waiting); retry later",
                                     batcher.queued_images()));
  }
  const BatchAnswer answer = future->get();
  if (!answer.error.empty()) throw HttpError(500, "inference failed: " + answer.error);
  nlohmann::json results = nlohmann::json::array();
  for (const auto& scores : answer.scores) results.push_back({{"top", train::scores_json(scores)}});
  const nlohmann::json body = {{"model", model_object(*answer.model)},
                               {"batch_images", answer.batch_images},
                               {"results", std::move(results)}};
  return body.dump() + "\n";
}

std::string detect(const httplib::Request& req, const ServeOptions& options,
                   const ModelStore& store, std::counting_semaphore<>& gate) {
  if (req.body.empty()) throw HttpError(400, "empty body: send a street image (PNG, JPEG, PPM)");
  cv::Mat image;
  try {
    const cv::Mat encoded(1, static_cast<int>(req.body.size()), CV_8UC1,
                          const_cast<char*>(req.body.data()));
    image = cv::imdecode(encoded, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    throw HttpError(400, fmt::format("cannot decode image ({})", e.err));
  }
  if (image.empty()) throw HttpError(400, "cannot decode image");
  if (!gate.try_acquire_for(std::chrono::seconds(5))) {
    throw HttpError(503, "all detection slots busy; retry later");
  }
  struct Release {
    std::counting_semaphore<>& gate;
    ~Release() { gate.release(); }
  } release{gate};
  const auto model = store.current();
  const auto& loaded = model->predictor.loaded();
  experiments::SignDetector detector(loaded.model, loaded.info.input_size,
                                     data::parse_contrast(loaded.info.contrast), options.detector);
  const auto found = detector.detect(image);
  const nlohmann::json body = {
      {"model", model_object(*model)},
      {"width", image.cols},
      {"height", image.rows},
      {"candidates", found.proposals.size()},
      {"detections", nlohmann::json::parse(experiments::detections_json(found.detections))}};
  return body.dump() + "\n";
}

std::string model_json(const ServedModel& model) { return model_object(model).dump(); }

}  // namespace fedsign::serve
