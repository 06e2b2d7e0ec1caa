// A federated client as the round loop sees it (Flower's Client / ClientProxy): given the
// global model and instructions, train locally and report, or evaluate and report. The
// simulation's LocalClient runs in process; the network layer's proxy forwards the same
// calls to a remote device. fit() and evaluate() throw to report a failure (a dropped-out or
// crashed client); the round loop records it as a Failure for the strategy.
#pragma once

#include <stdexcept>

#include "fedsign/fl/messages.h"

namespace fedsign::fl {

class Client {
 public:
  virtual ~Client() = default;
  virtual FitResult fit(const FitIns& ins) = 0;
  virtual EvaluateResult evaluate(const EvaluateIns& ins) = 0;
};

// Thrown by a client that (simulatedly) dropped out of a round.
class ClientDropout : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace fedsign::fl
