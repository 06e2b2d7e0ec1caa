// `fedsign fl client`: one federated device. Registers with the server, then long-polls for
// tasks and runs them with the SAME client code as the simulation (fl::LocalClient over the
// local data, fl::Worker for the model), so a networked run matches a simulated one.
//
// Fault tolerance: every failed call leads to a new registration with exponential backoff
// (initial * 2^k, capped, with jitter); a restarted server is rejoined the same way. The client
// gives up after `give_up_s` without reaching the server. It stops (returns 0) when the server
// announces the end of training, and throws fedsign::Error when refused (unknown, revoked,
// wrong credentials) - a refusal is not retried.
//
// Safety: the client warns when it talks plaintext; it reads its token from a file or the
// FEDSIGN_TOKEN environment variable (a --token on the command line is visible to every local
// user); it refuses a task whose announced size exceeds `max_model_bytes` or disagrees with its
// tensor list before reserving memory, and a model with non-finite values.
#pragma once

#include <filesystem>
#include <string>

#include "fedsign/data/image_set.h"
#include "fedsign/fl/attack/attack_options.h"
#include "fedsign/fl/client/local_client.h"
#include "fedsign/net/server.h"
#include "fedsign/train/train_config.h"

namespace fedsign::net {

struct ClientOptions {
  std::string server = "127.0.0.1:7070";
  std::string name;
  std::string token;       // prefer token_file or $FEDSIGN_TOKEN (argv is public)
  std::string token_file;  // first line is the token
  TlsFiles tls;
  std::string tls_server_name;  // expected name in the server certificate (default: the host)
  train::TrainConfig train;     // local training settings; the model comes from the server
  std::string bn_mode = "aggregate";
  // Where this client keeps its state (SCAFFOLD c_i, FedBN tensors, top-k residual) across its
  // own restarts; empty: in memory only. Used only for the run it was saved in
  // (RegisterReply.run_id), written after each update the server took.
  std::filesystem::path state_file;
  // The partition this client's data is a share of, and its index (see net/partition_check.h).
  std::string partition;
  int64_t partition_index = 0;
  double backoff_initial_s = 0.5;
  double backoff_max_s = 10;
  double give_up_s = 300;
  int poll_ms = 5000;
  int64_t max_model_bytes = int64_t{1} << 31;  // largest task blob accepted (2 GiB)
  // FOR TESTS ONLY: misbehave to exercise the server's defenses (net/client_faults.h).
  std::string fault;
  // FOR TESTS AND BENCHMARKS: attack as `fl simulate --attack` attackers do, after each fit
  // (update attacks only: sign-flip, scale, noise; `kind` "none": an honest client).
  fl::attack::AttackOptions attack;
};

// Returns the number of tasks completed when the server shut training down.
int64_t run_client(const ClientOptions& options, const data::ImageSet& set,
                   const fl::ClientData& data);

}  // namespace fedsign::net
