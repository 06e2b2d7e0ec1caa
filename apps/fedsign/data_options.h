// Dataset options shared by the commands that read GTSRB (train, evaluate, fl ...): one
// declaration, so flags and config keys are named the same everywhere.
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>

#include "fedsign/data/gtsrb_reader.h"
#include "fedsign/data/image_loader.h"
#include "fedsign/data/image_set.h"
#include "fedsign/data/split.h"

namespace fedsign::cli {

struct DataOptions {
  std::string data_dir = "data/sample";
  std::string subset = "train";
  std::string labels;
  int size = 32;
  std::string contrast = "clahe";
  std::string cache_dir;  // default: $XDG_CACHE_HOME/fedsign or ~/.cache/fedsign
  bool no_cache = false;
  std::string on_bad_image = "abort";
  double val_fraction = 0.2;
  double test_fraction = 0.0;  // --test-fraction (train, fl, rare, transfer, evaluate): 0 = none
  uint64_t split_seed = 1;
  int threads = 0;
  // Read-only commands (evaluate, data info/cache) set this when --subset was not given: a
  // folder holding only a test set is then used as such, with a note
  // (data::find_dataset_or_test_set).
  bool test_if_only_test = false;
};

// Adds --data, --subset, --labels, --size, --contrast, --cache-dir, --no-cache, --on-bad-image,
// --threads; with_split also adds --val-fraction and --split-seed.
void add_data_options(CLI::App& command, DataOptions& options, bool with_split = true);

// --test-fraction: a third, untouched split by track (data::split_by_track), for the commands
// that report it (train, fl simulate/server/client, rare, transfer) or score it (evaluate
// --split test).
void add_test_split_option(CLI::App& command, DataOptions& options);

// The run's split by track: train / validation (/ test with --test-fraction).
data::TrackSplit split_dataset(const data::ImageSet& set, const DataOptions& options);

// The untouched test split's one reading, at the end of a run: scores the model bundle in
// `run_dir` (model.pt + model.json) on `test`, prints "test split (untouched): ...", appends a
// row to run_dir/summary.md and writes run_dir/test.json. Returns the accuracy (NaN if `test`
// is empty: nothing is done then).
double report_test_split(const std::filesystem::path& run_dir, const data::ImageSet& set,
                         const data::Indices& test, const std::string& precision,
                         int64_t batch_size);

data::LoadOptions to_load_options(const DataOptions& options);

// --subset and --labels as find options.
data::FindOptions to_find_options(const DataOptions& options);

// Finds the dataset; logs a note when a folder holding only a test set is used in place of
// the training set (test_if_only_test).
data::DatasetSource find_dataset(const DataOptions& options);

// Finds, decodes (or loads from cache) and reports the dataset. `subset`, if given, receives
// the subset actually read (kTest for a test-only folder under test_if_only_test).
data::ImageSet load_dataset(const DataOptions& options, data::Subset* subset = nullptr);

// True if `command`'s option `name` was given (on the command line or in a --config file).
bool option_given(const CLI::App& command, const std::string& name);

}  // namespace fedsign::cli
