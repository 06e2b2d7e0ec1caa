#include "tests/testing/gtsrb_fixture.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <sstream>
#include <stdexcept>

namespace fedsign::testing {
namespace fs = std::filesystem;

namespace {

struct Roi {
  int x1, y1, x2, y2;
};

struct Drawn {
  cv::Mat bgr;
  Roi roi;
};

// Per physical sign: canvas size, background and base sign size stay fixed over its frames.
struct TrackLook {
  int width, height;
  cv::Scalar background;
};

TrackLook make_track(std::mt19937_64& rng, const FixtureOptions& o) {
  std::uniform_int_distribution<int> side(o.min_side, o.max_side);
  std::uniform_int_distribution<int> grey(60, 170);
  std::uniform_int_distribution<int> tint(-15, 15);
  const int g = grey(rng);
  return {side(rng), side(rng), cv::Scalar(g + tint(rng), g + tint(rng), g + tint(rng))};
}

Drawn draw_sign(int class_id, int num_classes, const TrackLook& track, int frame,
                std::mt19937_64& rng) {
  std::uniform_int_distribution<int> margin(3, 6);
  std::uniform_int_distribution<int> shift(-1, 1);
  std::uniform_real_distribution<double> brightness(0.8, 1.15);
  std::normal_distribution<double> noise(0.0, 6.0);

  cv::Mat image(track.height, track.width, CV_8UC3, track.background);
  Roi roi{margin(rng), margin(rng), 0, 0};
  roi.x2 = track.width - 1 - margin(rng);
  roi.y2 = track.height - 1 - margin(rng);

  // Class c = shape (c % 4) x inner bar (c / 4 % 2) x hue (c / 8), hues spread evenly.
  const int hues = std::max(1, (num_classes + 7) / 8);
  const double hue = (class_id / 8) * 180.0 / hues;
  const double value = std::min(255.0, 215.0 * brightness(rng));
  cv::Mat hsv(1, 1, CV_8UC3, cv::Scalar(hue, 230, value)), bgr_colour;
  cv::cvtColor(hsv, bgr_colour, cv::COLOR_HSV2BGR);
  const cv::Vec3b c = bgr_colour.at<cv::Vec3b>(0, 0);
  const cv::Scalar colour(c[0], c[1], c[2]);

  // The sign fills most of the ROI, grows a little over a track and jitters by a pixel.
  const cv::Point center((roi.x1 + roi.x2) / 2 + shift(rng), (roi.y1 + roi.y2) / 2 + shift(rng));
  const int half = std::min(roi.x2 - roi.x1, roi.y2 - roi.y1) / 2;
  const int r = std::max(4, static_cast<int>(half * (0.9 + 0.03 * std::min(frame, 3))));
  switch (class_id % 4) {
    case 0:
      cv::circle(image, center, r, colour, cv::FILLED, cv::LINE_AA);
      break;
    case 1: {
      const std::vector<cv::Point> triangle = {{center.x, center.y - r},
                                               {center.x - r, center.y + r * 3 / 4},
                                               {center.x + r, center.y + r * 3 / 4}};
      cv::fillConvexPoly(image, triangle, colour, cv::LINE_AA);
      break;
    }
    case 2:
      cv::rectangle(image, cv::Point(center.x - r * 4 / 5, center.y - r * 4 / 5),
                    cv::Point(center.x + r * 4 / 5, center.y + r * 4 / 5), colour, cv::FILLED);
      break;
    default:
      cv::circle(image, center, r - 2, colour, std::max(2, r / 3), cv::LINE_AA);
      break;
  }
  if ((class_id / 4) % 2 == 1) {  // a white bar across the middle, as on "no entry"
    const int bar = std::max(1, r / 5);
    cv::rectangle(image, cv::Point(center.x - r * 3 / 5, center.y - bar),
                  cv::Point(center.x + r * 3 / 5, center.y + bar), cv::Scalar::all(245),
                  cv::FILLED);
  }
  cv::Mat jitter(image.size(), CV_16SC3);
  for (int y = 0; y < jitter.rows; ++y) {
    for (int x = 0; x < jitter.cols; ++x) {
      for (int k = 0; k < 3; ++k) jitter.at<cv::Vec3s>(y, x)[k] = static_cast<short>(noise(rng));
    }
  }
  cv::Mat noisy;
  image.convertTo(noisy, CV_16SC3);
  noisy += jitter;
  noisy.convertTo(image, CV_8UC3);  // saturates
  return {image, roi};
}

void write_image(const fs::path& file, const cv::Mat& bgr) {
  fs::create_directories(file.parent_path());
  if (!cv::imwrite(file.string(), bgr)) throw std::runtime_error("cannot write " + file.string());
}

// Accumulates CSV text with the chosen line ending.
class CsvText {
 public:
  CsvText(char delimiter, bool crlf) : delimiter_(delimiter), eol_(crlf ? "\r\n" : "\n") {}
  template <typename... Fields>
  void row(const Fields&... fields) {
    bool first = true;
    ((text_ += (first ? "" : std::string(1, delimiter_)) + fmt::format("{}", fields),
      first = false),
     ...);
    text_ += eol_;
  }
  const std::string& str() const { return text_; }

 private:
  char delimiter_;
  std::string eol_;
  std::string text_;
};

std::uint64_t class_seed(std::uint64_t seed, int class_id, int salt) {
  return seed * 1000003ULL + static_cast<std::uint64_t>(class_id) * 7919ULL + salt;
}

}  // namespace

FixtureInfo write_kaggle_dataset(const fs::path& dir, const FixtureOptions& o) {
  FixtureInfo info;
  info.root = dir;
  fs::create_directories(dir);
  CsvText train(',', o.crlf);
  train.row("Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2", "ClassId", "Path");
  for (int c = 0; c < o.num_classes; ++c) {
    std::mt19937_64 rng(class_seed(o.seed, c, 0));
    for (int t = 0; t < o.tracks_per_class; ++t) {
      const TrackLook track = make_track(rng, o);
      for (int f = 0; f < o.frames_per_track; ++f) {
        const Drawn d = draw_sign(c, o.num_classes, track, f, rng);
        const std::string rel = fmt::format("Train/{}/{:05}_{:05}_{:05}.png", c, c, t, f);
        write_image(dir / rel, d.bgr);
        train.row(d.bgr.cols, d.bgr.rows, d.roi.x1, d.roi.y1, d.roi.x2, d.roi.y2, c, rel);
        info.train_images.push_back(dir / rel);
        info.train_labels.push_back(c);
      }
    }
  }
  write_text(dir / "Train.csv", train.str());
  info.annotation_files.push_back(dir / "Train.csv");

  if (o.test_images_per_class > 0) {
    CsvText test(',', o.crlf);
    test.row("Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2", "ClassId", "Path");
    int index = 0;
    for (int c = 0; c < o.num_classes; ++c) {
      std::mt19937_64 rng(class_seed(o.seed, c, 1));
      for (int i = 0; i < o.test_images_per_class; ++i) {
        const Drawn d = draw_sign(c, o.num_classes, make_track(rng, o), i, rng);
        const std::string rel = fmt::format("Test/{:05}.png", index++);
        write_image(dir / rel, d.bgr);
        test.row(d.bgr.cols, d.bgr.rows, d.roi.x1, d.roi.y1, d.roi.x2, d.roi.y2, c, rel);
        info.test_images.push_back(dir / rel);
        info.test_labels.push_back(c);
      }
    }
    write_text(dir / "Test.csv", test.str());
    info.test_annotation_file = dir / "Test.csv";
  }
  return info;
}

FixtureInfo write_official_dataset(const fs::path& dir, const FixtureOptions& o) {
  FixtureInfo info;
  info.root = dir;
  const fs::path images = dir / "Final_Training" / "Images";
  for (int c = 0; c < o.num_classes; ++c) {
    const fs::path class_dir = images / fmt::format("{:05}", c);
    CsvText csv(';', o.crlf);
    csv.row("Filename", "Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2", "ClassId");
    std::mt19937_64 rng(class_seed(o.seed, c, 0));
    for (int t = 0; t < o.tracks_per_class; ++t) {
      const TrackLook track = make_track(rng, o);
      for (int f = 0; f < o.frames_per_track; ++f) {
        const Drawn d = draw_sign(c, o.num_classes, track, f, rng);
        const std::string name = fmt::format("{:05}_{:05}.ppm", t, f);
        write_image(class_dir / name, d.bgr);
        csv.row(name, d.bgr.cols, d.bgr.rows, d.roi.x1, d.roi.y1, d.roi.x2, d.roi.y2, c);
        info.train_images.push_back(class_dir / name);
        info.train_labels.push_back(c);
      }
    }
    const fs::path gt = class_dir / fmt::format("GT-{:05}.csv", c);
    write_text(gt, csv.str());
    info.annotation_files.push_back(gt);
  }

  if (o.test_images_per_class > 0) {
    const fs::path test_images = dir / "Final_Test" / "Images";
    CsvText unlabeled(';', o.crlf), labeled(';', o.crlf);
    unlabeled.row("Filename", "Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2");
    labeled.row("Filename", "Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2", "ClassId");
    int index = 0;
    for (int c = 0; c < o.num_classes; ++c) {
      std::mt19937_64 rng(class_seed(o.seed, c, 1));
      for (int i = 0; i < o.test_images_per_class; ++i) {
        const Drawn d = draw_sign(c, o.num_classes, make_track(rng, o), i, rng);
        const std::string name = fmt::format("{:05}.ppm", index++);
        write_image(test_images / name, d.bgr);
        unlabeled.row(name, d.bgr.cols, d.bgr.rows, d.roi.x1, d.roi.y1, d.roi.x2, d.roi.y2);
        labeled.row(name, d.bgr.cols, d.bgr.rows, d.roi.x1, d.roi.y1, d.roi.x2, d.roi.y2, c);
        info.test_images.push_back(test_images / name);
        info.test_labels.push_back(c);
      }
    }
    write_text(test_images / "GT-final_test.test.csv", unlabeled.str());
    info.test_annotation_file =
        o.test_labels_file.empty() ? dir / "GT-final_test.csv" : o.test_labels_file;
    write_text(info.test_annotation_file, labeled.str());
  }
  return info;
}

void write_garbage(const fs::path& file, std::size_t bytes) {
  std::mt19937_64 rng(bytes);
  std::string text(bytes, '\0');
  for (char& ch : text) ch = static_cast<char>(rng() & 0xff);
  write_text(file, text);
}

void truncate_file(const fs::path& file, double keep_fraction) {
  const auto size = fs::file_size(file);
  fs::resize_file(file, static_cast<std::uintmax_t>(static_cast<double>(size) * keep_fraction));
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write_text(const fs::path& file, const std::string& text) {
  if (file.has_parent_path()) fs::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

void replace_line(const fs::path& file, int line, const std::string& text) {
  const std::string original = read_text(file);
  std::string result;
  std::size_t start = 0;
  int number = 1;
  bool replaced = false;
  while (start < original.size()) {
    std::size_t end = original.find('\n', start);
    if (end == std::string::npos) end = original.size();
    std::string current = original.substr(start, end - start);
    const bool cr = !current.empty() && current.back() == '\r';
    if (number == line) {
      current = text + (cr ? "\r" : "");
      replaced = true;
    }
    result += current;
    if (end < original.size()) result += '\n';
    start = end + 1;
    ++number;
  }
  if (!replaced) throw std::runtime_error(fmt::format("{} has no line {}", file.string(), line));
  write_text(file, result);
}

void bump_mtime(const fs::path& file, int seconds) {
  fs::last_write_time(file, fs::last_write_time(file) + std::chrono::seconds(seconds));
}

fs::path sample_data_dir() { return fs::path(FEDSIGN_SOURCE_DIR) / "data" / "sample"; }

fs::path write_fixture_pictograms(const fs::path& dir, int classes) {
  const fs::path meta = dir / "Meta";
  fs::create_directories(meta);
  for (int c = 0; c < classes; ++c) {
    cv::Mat image(60, 60, CV_8UC4, cv::Scalar(0, 0, 0, 0));
    cv::Mat hsv(1, 1, CV_8UC3, cv::Scalar((c / 8) * 30 % 180, 220, 220)), bgr;
    cv::cvtColor(hsv, bgr, cv::COLOR_HSV2BGR);
    const auto px = bgr.at<cv::Vec3b>(0, 0);
    const cv::Scalar color(px[0], px[1], px[2], 255);
    switch (c % 4) {
      case 0: cv::circle(image, {30, 30}, 28, color, cv::FILLED); break;
      case 1: {
        std::vector<cv::Point> t = {{30, 2}, {58, 57}, {2, 57}};
        cv::fillConvexPoly(image, t, color);
        break;
      }
      case 2: cv::rectangle(image, {3, 3}, {56, 56}, color, cv::FILLED); break;
      default: cv::circle(image, {30, 30}, 24, color, 8); break;
    }
    if ((c / 4) % 2) cv::rectangle(image, {8, 26}, {52, 34}, cv::Scalar(255, 255, 255, 255), cv::FILLED);
    cv::imwrite((meta / (std::to_string(c) + ".png")).string(), image);
  }
  return meta;
}

}  // namespace fedsign::testing
