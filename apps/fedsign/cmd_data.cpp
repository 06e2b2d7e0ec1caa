// `fedsign data info DIR` (what a GTSRB folder contains, from its annotations only) and
// `fedsign data cache DIR` (decode once and write the image cache that train/evaluate reuse).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <set>

#include "commands.h"
#include "data_options.h"
#include "fedsign/data/gtsrb_reader.h"
#include "fedsign/data/image_loader.h"
#include "fedsign/data/sign_names.h"

namespace fedsign::cli {

namespace {

struct InfoCommand {
  std::string dir;
  std::string subset = "train";
  std::string labels;
  bool json = false;
  bool test_if_only_test = false;  // --subset not given
};

// min / mean / max of a quantity over the records.
struct Stats {
  int min = std::numeric_limits<int>::max();
  int max = std::numeric_limits<int>::min();
  double sum = 0;
  std::size_t count = 0;
  void add(int v) {
    min = std::min(min, v);
    max = std::max(max, v);
    sum += v;
    ++count;
  }
  double mean() const { return count ? sum / count : 0.0; }
  nlohmann::ordered_json to_json() const { return {{"min", min}, {"mean", mean()}, {"max", max}}; }
  std::string to_text() const { return fmt::format("min {}  mean {:.1f}  max {}", min, mean(), max); }
};

void run_info(const InfoCommand& o) {
  DataOptions data;
  data.data_dir = o.dir;
  data.subset = o.subset;
  data.labels = o.labels;
  data.test_if_only_test = o.test_if_only_test;
  const data::DatasetSource source = find_dataset(data);
  const int num_classes = data::kNumGtsrbClasses;
  std::vector<std::size_t> images(num_classes, 0);
  std::vector<std::set<std::int64_t>> tracks(num_classes);
  std::set<std::int64_t> all_tracks;
  Stats width, height, roi_width, roi_height;
  for (const auto& r : source.records) {
    ++images[r.class_id];
    tracks[r.class_id].insert(r.track);
    all_tracks.insert(r.track);
    width.add(r.width);
    height.add(r.height);
    roi_width.add(r.roi.x2 - r.roi.x1 + 1);
    roi_height.add(r.roi.y2 - r.roi.y1 + 1);
  }
  const auto present = std::count_if(images.begin(), images.end(), [](auto n) { return n > 0; });

  if (o.json) {
    nlohmann::ordered_json classes = nlohmann::ordered_json::array();
    for (int c = 0; c < num_classes; ++c) {
      classes.push_back({{"class", c},
                         {"name", std::string(data::sign_name(c))},
                         {"images", images[c]},
                         {"tracks", tracks[c].size()}});
    }
    nlohmann::ordered_json files = nlohmann::ordered_json::array();
    for (const auto& f : source.annotation_files) files.push_back(f.string());
    const nlohmann::ordered_json out = {{"root", source.root.string()},
                                {"layout", data::to_string(source.layout)},
                                {"subset", data::to_string(source.subset)},
                                {"annotation_files", files},
                                {"images", source.records.size()},
                                {"tracks", all_tracks.size()},
                                {"classes_present", present},
                                {"image_width", width.to_json()},
                                {"image_height", height.to_json()},
                                {"roi_width", roi_width.to_json()},
                                {"roi_height", roi_height.to_json()},
                                {"classes", classes}};
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }

  std::printf("GTSRB %s set in %s\n", data::to_string(source.subset).c_str(),
              source.root.string().c_str());
  std::printf("  layout        %s (%zu annotation file%s)\n", data::to_string(source.layout).c_str(),
              source.annotation_files.size(), source.annotation_files.size() == 1 ? "" : "s");
  std::printf("  images        %zu\n", source.records.size());
  std::printf("  tracks        %zu\n", all_tracks.size());
  std::printf("  classes       %ld of %d\n", static_cast<long>(present), num_classes);
  std::printf("  image width   %s\n", width.to_text().c_str());
  std::printf("  image height  %s\n", height.to_text().c_str());
  std::printf("  ROI width     %s\n", roi_width.to_text().c_str());
  std::printf("  ROI height    %s\n\n", roi_height.to_text().c_str());
  std::printf("%5s %7s %7s  %s\n", "class", "images", "tracks", "name");
  for (int c = 0; c < num_classes; ++c) {
    std::printf("%5d %7zu %7zu  %s\n", c, images[c], tracks[c].size(),
                std::string(data::sign_name(c)).c_str());
  }
}

struct CacheCommand {
  DataOptions data;  // same defaults (contrast, cache folder) as train/evaluate use
};

void run_cache(const CacheCommand& o) {
  const data::DatasetSource source = find_dataset(o.data);
  data::LoadOptions load = to_load_options(o.data);
  load.progress = true;
  data::LoadReport report;
  data::load_images(source, load, &report);
  std::printf("cache file  %s\n", report.cache_file.string().c_str());
  std::printf("images      %zu (%zu skipped)\n", report.loaded, report.skipped);
  std::printf("seconds     %.2f (%s)\n", report.seconds,
              report.from_cache ? "already cached" : "decoded and written");
}

}  // namespace

void add_data_commands(CLI::App& app, Actions& actions) {
  CLI::App* group = app.add_subcommand("data", "Inspect a GTSRB folder, prepare the image cache");
  group->require_subcommand(1);

  auto info = std::make_shared<InfoCommand>();
  CLI::App* info_cmd = add_command(*group, "info", "Layout, counts and size statistics of a GTSRB folder");
  info_cmd->add_option("dir", info->dir, "GTSRB folder (official or Kaggle layout, any depth)")
      ->required();
  info_cmd->add_option("--subset", info->subset, "train or test annotations")
      ->check(CLI::IsMember({"train", "test"}))
      ->capture_default_str();
  info_cmd->add_option("--labels", info->labels,
                       "labels CSV if not beside the images (official GT-final_test.csv)");
  info_cmd->add_flag("--json", info->json, "print JSON instead of text");
  actions[info_cmd] = [info, info_cmd] {
    InfoCommand c = *info;
    c.test_if_only_test = !option_given(*info_cmd, "--subset");
    run_info(c);
  };

  auto cache = std::make_shared<CacheCommand>();
  DataOptions& d = cache->data;
  CLI::App* cache_cmd = add_command(*group, "cache", "Decode all images once and write the cache");
  cache_cmd->add_option("dir", d.data_dir, "GTSRB folder (official or Kaggle layout, any depth)")
      ->required();
  cache_cmd->add_option("--subset", d.subset, "train or test annotations")
      ->check(CLI::IsMember({"train", "test"}))
      ->capture_default_str();
  cache_cmd->add_option("--labels", d.labels,
                        "labels CSV if not beside the images (official GT-final_test.csv)");
  cache_cmd->add_option("--size", d.size, "output side in pixels")
      ->check(CLI::Range(8, 512))
      ->capture_default_str();
  cache_cmd->add_option("--contrast", d.contrast, "contrast normalization on luminance")
      ->check(CLI::IsMember({"none", "equalize", "clahe"}))
      ->capture_default_str();
  cache_cmd->add_option("--cache-dir", d.cache_dir, "cache folder (default ~/.cache/fedsign)");
  cache_cmd->add_option("--on-bad-image", d.on_bad_image, "abort or skip (and count) unreadable images")
      ->check(CLI::IsMember({"abort", "skip"}))
      ->capture_default_str();
  cache_cmd->add_option("--threads", d.threads, "decoding threads (0: all cores)")
      ->capture_default_str();
  actions[cache_cmd] = [cache, cache_cmd] {
    CacheCommand c = *cache;
    c.data.test_if_only_test = !option_given(*cache_cmd, "--subset");
    run_cache(c);
  };
}

}  // namespace fedsign::cli
