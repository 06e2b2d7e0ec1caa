// What the server and a client exchange in one round, after Flower's FitIns/FitRes and
// EvaluateIns/EvaluateRes. Plain values (tensors are shared handles, so copying an instruction
// does not copy the model); the network layer serializes exactly these structs.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "fedsign/fl/weights.h"

namespace fedsign::fl {

// Clients are numbered; the network server assigns numbers to connected clients.
using ClientId = int64_t;

// A round's instructions to a client: "local_epochs", "local_steps", "lr", "proximal_mu", ...
using ConfigValue = std::variant<bool, int64_t, double, std::string>;
using Config = std::map<std::string, ConfigValue>;
// Scalar results a client or strategy reports ("train_loss", "accuracy", ...).
using Metrics = std::map<std::string, double>;

// Typed reads with a default; numbers convert between int64 and double, anything else throws
// fedsign::Error naming the key.
double get_double(const Config& config, const std::string& key, double fallback);
int64_t get_int(const Config& config, const std::string& key, int64_t fallback);
bool get_bool(const Config& config, const std::string& key, bool fallback);
std::string get_string(const Config& config, const std::string& key, const std::string& fallback);
std::string to_string(const ConfigValue& value);

// Keys the round loop and the built-in strategies use.
namespace keys {
inline constexpr const char* kRound = "round";               // int, set by the round loop
inline constexpr const char* kLocalEpochs = "local_epochs";  // int
inline constexpr const char* kLocalSteps = "local_steps";    // int, > 0 overrides epochs
inline constexpr const char* kLr = "lr";                     // double, local learning rate
inline constexpr const char* kProximalMu = "proximal_mu";    // double, FedProx
inline constexpr const char* kScaffold = "scaffold";         // bool, client keeps c_i
inline constexpr const char* kWorkFraction = "work_fraction";  // double in (0, 1], stragglers
// string: comma-separated layer groups the client trains ("stage4,head"); absent or "all": every
// group. The rest stays frozen, BatchNorm statistics included (the server discards changes).
inline constexpr const char* kTrainableGroups = "trainable_groups";
}  // namespace keys

struct FitIns {
  Weights weights;                // the global model
  Config config;
  std::optional<Weights> control;  // SCAFFOLD: the server control variate c
};

struct FitResult {
  ClientId client_id = 0;
  Weights weights;          // the client's model after local training
  int64_t num_examples = 0;  // local training set size (FedAvg's n_k)
  Metrics metrics;          // "train_loss", "train_accuracy", "steps", "train_seconds", ...
  std::optional<Weights> control_delta;  // SCAFFOLD: c_i+ - c_i
};

struct EvaluateIns {
  Weights weights;
  Config config;
};

struct EvaluateResult {
  ClientId client_id = 0;
  int64_t num_examples = 0;
  double loss = 0.0;
  Metrics metrics;  // "accuracy"
};

// A sampled client that did not deliver (dropped out, crashed, timed out).
struct Failure {
  ClientId client_id = 0;
  std::string reason;
};

}  // namespace fedsign::fl
