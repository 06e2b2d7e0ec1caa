// Finding a dataset for commands that only read one (evaluate, data info/cache): a folder that
// holds no training set but exactly one test set (a download of the official test images, a
// Kaggle Test.csv alone) is read as that test set instead of failing with "use --subset test".
// Training commands never use this, so a test set is never trained on by accident.
#pragma once

#include <filesystem>

#include "fedsign/data/gtsrb_reader.h"

namespace fedsign::data {

// Like find_dataset(dir, options); if options.subset is kTrain and `dir` holds no training set
// but exactly one test set, that test set (the result's subset says kTest). Any other failure
// (e.g. a malformed training set) is thrown as find_dataset throws it.
DatasetSource find_dataset_or_test_set(const std::filesystem::path& dir, const FindOptions& options);

}  // namespace fedsign::data
