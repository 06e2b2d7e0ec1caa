// The federation's options, declared once for `fl simulate`, `fl server` and `fl client`
// (`fl partition` shows a partition): one flag, one config key, one meaning in every command
// that accepts it, and a command accepts only what it uses. docs/config.md lists them per
// command; docs/fl.md says which command takes which group.
//
//   group                 simulate  server  client
//   Strategy              yes       yes     -        (the server decides)
//   Rounds and sampling   yes       yes     -
//   Local instructions    yes       yes     -        (sent with every fit)
//   Privacy               yes       yes     -        (privacy_options.h; the fit config says)
//   Partition             yes       -       yes      (+ --partition-index on the client)
//   Run output            yes       yes     -
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "fedsign/data/partition.h"
#include "fedsign/fl/client/local_client.h"
#include "fedsign/fl/run/driver.h"
#include "fedsign/fl/run/federation.h"
#include "data_options.h"

namespace fedsign::cli {

inline constexpr const char* kNetworkGroup = "Network";  // never part of a run's settings

struct PartitionOptions {
  int64_t clients = 10;
  std::string kind = "iid";
  double alpha = 0.5;
  int64_t shards_per_client = 2;
  std::string quantity_sizes = "lognormal";
  double sigma = 1.0;
  uint64_t seed = 1;
  double client_test_fraction = 0.1;
  int64_t client_renders = 0;  // pictogram renders per class added to each client's training data
  int64_t index = 0;  // fl client: which share is this client's
};

// --clients, --partition, --alpha, --shards-per-client, --quantity-sizes, --sigma,
// --partition-seed, --client-test-fraction, --client-renders; with `with_index` also
// --partition-index.
void add_partition_options(CLI::App& command, PartitionOptions& options, bool with_index = false);
data::PartitionConfig to_partition_config(const PartitionOptions& options);
std::string partition_title(const PartitionOptions& options);
// A canonical one-line description of the partition (all that decides who holds what), which
// the network server compares across clients.
std::string partition_key(const PartitionOptions& options, double val_fraction, uint64_t split_seed,
                          double test_fraction = 0.0);

// Client `index`'s local data from its part of the partition: split by track into local training
// and local test (--client-test-fraction), seeded by the partition seed and the index, so the
// network client `index` holds exactly the simulated client `index`'s images.
fl::ClientData client_data(const data::ImageSet& set, const data::Indices& part,
                           const PartitionOptions& options, int64_t index);

// --client-renders: client `index` renders that many images per class of the sign pictograms
// (the Meta/ folder of --data: public, the same pictograms every car could hold), seeded by the
// partition seed and the index, and adds them to its local training data only (its local test
// stays real photos). The images are appended to `set`; renders are cached under the data
// cache folder (a temporary folder with --no-cache). Returns how many were added.
int64_t add_client_renders(data::ImageSet& set, fl::ClientData& client, const PartitionOptions& options,
                           const DataOptions& data, int64_t index);

struct FederationOptions {
  fl::FederationConfig config;
  std::string out = "runs/fl";
  std::string name;
  bool resume = false;
};

// Strategy, rounds and sampling, local instructions, evaluation and run output (--out, --name,
// --resume). `--seed` is not among them: each command declares it once with its own help.
void add_federation_options(CLI::App& command, FederationOptions& options);

// Every option of `command` that shapes the run (for the resume check): all but where, how long,
// how loud and how fast, and the Network group.
std::string settings_json(const CLI::App& command);
// The same options' defaults: a resumed run accepts an option its checkpoint lacks (added to
// fedsign since) at its default.
std::string settings_defaults_json(const CLI::App& command);

// The driver's run configuration from the options.
fl::RunConfig run_config(const CLI::App& command, const FederationOptions& options,
                         const std::string& title);

}  // namespace fedsign::cli
