// What the federated commands print and write beside a run: the partition (table, heatmap,
// CSV) and the simulation's summary.md.
#pragma once

#include <filesystem>
#include <vector>

#include "fedsign/data/image_set.h"
#include "fedsign/data/partition.h"
#include "fedsign/fl/sim/simulation.h"
#include "fl_options.h"

namespace fedsign::cli {

// Prints the partition; with `out` non-empty also writes partition.png and partition.csv there;
// with `table` one line per client (at most 50, else the first 20).
data::PartitionStats report_partition(const data::ImageSet& set,
                                      const std::vector<data::Indices>& parts,
                                      const PartitionOptions& options,
                                      const std::filesystem::path& out, bool table);

struct SimulationSummary {
  const FederationOptions& federation;
  const PartitionOptions& partition;
  const std::string& bn;
  const train::TrainConfig& local;
  const data::PartitionStats& stats;
  int64_t central_images = 0;
  int64_t clients_train_images = 0, clients_test_images = 0;
  int64_t clients_renders = 0;  // --client-renders images added to the clients' training data
  std::string attack = "none";    // e.g. "sign-flip: 2 of 10 clients (attackers.json)"
  std::string compress = "none";  // the upload codec
};

// dir/summary.md: the setup and the result in one table.
void write_summary(const std::filesystem::path& dir, const SimulationSummary& summary,
                   const fl::Strategy& strategy, const fl::SimulationResult& result);

}  // namespace fedsign::cli
