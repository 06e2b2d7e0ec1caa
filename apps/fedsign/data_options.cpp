#include "data_options.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/core/read_file.h"
#include "fedsign/train/evaluate.h"
#include "fedsign/train/model_bundle.h"
#include "fedsign/data/test_set_fallback.h"

namespace fedsign::cli {

void add_data_options(CLI::App& command, DataOptions& o, bool with_split) {
  command.add_option("--data", o.data_dir, "GTSRB folder (official or Kaggle layout, any depth)")
      ->capture_default_str();
  command.add_option("--subset", o.subset, "train or test annotations")
      ->check(CLI::IsMember({"train", "test"}))
      ->capture_default_str();
  command.add_option("--labels", o.labels, "labels CSV if not beside the images (GT-final_test.csv)");
  command.add_option("--size", o.size, "model input side in pixels")
      ->check(CLI::Range(8, 512))
      ->capture_default_str();
  command.add_option("--contrast", o.contrast, "per-image contrast normalization on luminance")
      ->check(CLI::IsMember({"none", "equalize", "clahe"}))
      ->capture_default_str();
  command.add_option("--cache-dir", o.cache_dir, "decoded-image cache (default ~/.cache/fedsign)");
  command.add_flag("--no-cache", o.no_cache, "decode every time, write no cache");
  command.add_option("--on-bad-image", o.on_bad_image, "abort or skip (and count) unreadable images")
      ->check(CLI::IsMember({"abort", "skip"}))
      ->capture_default_str();
  command.add_option("--threads", o.threads,
                     "threads for decoding and training (0: all cores; training: $OMP_NUM_THREADS if set)")
      ->capture_default_str();
  if (with_split) {
    command.add_option("--val-fraction", o.val_fraction, "validation share, split by track")
        ->check(CLI::Range(0.0, 0.9))
        ->capture_default_str();
    command.add_option("--split-seed", o.split_seed, "seed of the track split")->capture_default_str();
  }
}

void add_test_split_option(CLI::App& command, DataOptions& o) {
  command.add_option("--test-fraction", o.test_fraction,
                     "share kept as an untouched test split, by track, disjoint from validation "
                     "and fixed by --split-seed alone (0: none); reported once, at the end")
      ->check(CLI::Range(0.0, 0.5))
      ->capture_default_str();
}

data::TrackSplit split_dataset(const data::ImageSet& set, const DataOptions& o) {
  return data::split_by_track(set, o.val_fraction, o.split_seed, o.test_fraction);
}

double report_test_split(const std::filesystem::path& run_dir, const data::ImageSet& set,
                         const data::Indices& test, const std::string& precision,
                         int64_t batch_size) {
  if (test.empty()) return NAN;
  train::LoadedModel loaded = train::load_model_bundle(run_dir);
  const auto mode = train::resolve_compute_mode(precision, "auto");
  train::apply_memory_format(*loaded.model, mode.channels_last);
  const train::Predictions p = train::predict_subset(*loaded.model, set, test, mode, batch_size);
  const double accuracy = p.accuracy();
  const nlohmann::json j = {{"split", "test"},
                            {"images", test.size()},
                            {"accuracy", accuracy},
                            {"loss", p.mean_loss},
                            {"model", loaded.weights_file.filename().string()}};
  write_text_atomically(run_dir / "test.json", j.dump(2) + "\n");
  const std::filesystem::path summary = run_dir / "summary.md";
  if (std::filesystem::exists(summary)) {
    write_text_atomically(summary, read_file(summary) +
                                       fmt::format("| test split (untouched, {} images) | {:.2f}% |\n",
                                                   test.size(), 100 * accuracy));
  }
  std::printf("test split (untouched, %zu images, read once): accuracy %.2f%%\n", test.size(),
              100 * accuracy);
  return accuracy;
}

namespace {
std::filesystem::path default_cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    return std::filesystem::path(xdg) / "fedsign";
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::filesystem::path(home) / ".cache" / "fedsign";
  }
  return ".fedsign-cache";
}
}  // namespace

data::LoadOptions to_load_options(const DataOptions& o) {
  data::LoadOptions load;
  load.size = o.size;
  load.contrast = data::parse_contrast(o.contrast);
  load.on_bad_image = data::parse_on_bad_image(o.on_bad_image);
  load.threads = o.threads;
  if (!o.no_cache) load.cache_dir = o.cache_dir.empty() ? default_cache_dir() : std::filesystem::path(o.cache_dir);
  return load;
}

data::FindOptions to_find_options(const DataOptions& o) {
  data::FindOptions find;
  find.subset = data::parse_subset(o.subset);
  if (!o.labels.empty()) find.labels_file = o.labels;
  return find;
}

data::DatasetSource find_dataset(const DataOptions& o) {
  const data::FindOptions find = to_find_options(o);
  data::DatasetSource source = o.test_if_only_test
                                   ? data::find_dataset_or_test_set(o.data_dir, find)
                                   : data::find_dataset(o.data_dir, find);
  if (source.subset != find.subset) {
    spdlog::warn("{} holds only a GTSRB test set ({} images): using it (--subset test says so "
                 "and silences this note)",
                 o.data_dir, source.records.size());
  }
  return source;
}

data::ImageSet load_dataset(const DataOptions& o, data::Subset* subset) {
  const data::DatasetSource source = find_dataset(o);
  if (subset) *subset = source.subset;
  data::LoadReport report;
  data::ImageSet set = data::load_images(source, to_load_options(o), &report);
  spdlog::info("{} images from {} ({} layout, {} set){}{} in {:.2f}s", set.size(),
               source.root.string(), data::to_string(source.layout),
               data::to_string(source.subset), report.from_cache ? ", from cache" : "",
               report.skipped ? fmt::format(", {} unreadable skipped", report.skipped) : "",
               report.seconds);
  return set;
}

bool option_given(const CLI::App& command, const std::string& name) {
  const CLI::Option* option = command.get_option_no_throw(name);
  return option != nullptr && option->count() > 0;
}

}  // namespace fedsign::cli
