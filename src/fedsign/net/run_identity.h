// Which federation run a server is serving. A client's state (SCAFFOLD's c_i, FedBN's
// BatchNorm tensors, top-k's residual) only means something within the run it was trained in;
// the run id in RegisterReply lets a client keep it across server restarts and its own
// restarts (--state-file) and drop it when the server starts a new run.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

namespace fedsign::net {

// `bytes` from OpenSSL's CSPRNG, as hex: unguessable, unlike a seeded Mersenne Twister whose
// state can be recovered from a few outputs.
std::string random_hex(std::size_t bytes);

// RUN_DIR/run_id: with `resume`, the id stored there (a new one if there is none, e.g. a run
// directory from before run ids); otherwise a new random id, stored (atomically, durably) before
// any client can register.
std::string federation_run_id(const std::filesystem::path& run_dir, bool resume);

}  // namespace fedsign::net
