#include "data_options.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

#include "fedsign/core/check.h"
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
