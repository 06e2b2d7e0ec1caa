// A network client's state (SCAFFOLD c_i, FedBN tensors, top-k residual) moves with each update
// it sends; the server may not keep that update. A server refusing it says so at once (client.cpp
// puts the state back then), but three cases are only known later: a connection lost during the
// upload (did the server take it?), a round that kept the old model (too few updates, a
// non-finite aggregate), and a server that crashed after taking updates and resumed from a
// checkpoint of an earlier round (the latest, or the generation before it when the latest is
// damaged), which redoes the rounds after it without them. If the client kept its new state in
// these cases, SCAFFOLD's server c and the client's c_i would drift apart, and top-k's residual
// would lose what it had sent.
//
// So the client keeps its state from before each of its updates of the last kRounds rounds, and
// every FIT task settles them: the task says the last round whose update from this client is in
// the server's model (TaskHeader.client_last_taken_round; a restarted server reads it from its
// checkpoint). If an update is newer, the server does not have it, nor any later one of this
// client: the state goes back to before the earliest such update. A crash can lose the round in
// progress and the two before it at most (a torn latest checkpoint falls back one or two rounds:
// core/atomic_file.h), so older entries are dropped. The states are held in memory (for SCAFFOLD
// with ResNet-18, up to kRounds copies of c_i, 45 MB each): a client process restarted from
// --state-file keeps the state it saved.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>

#include "fedsign/fl/client/client_state.h"

namespace fedsign::net {

class SentUpdates {
 public:
  // Rounds kept behind the newest FIT task's round.
  static constexpr int64_t kRounds = 4;

  // This client sent its update of `round` and took the new state; `before` is the old one.
  void sent(int64_t round, fl::ClientState before);
  // Before a FIT task of `round` from a server whose model holds this client's updates up to round
  // `last_taken` (nullopt: the server does not say). Puts `state` back to before the earliest
  // update the server does not hold and returns that update's round; 0 when the state stands.
  int64_t settle(std::optional<int64_t> last_taken, int64_t round, fl::ClientState& state);
  // A new federation run: the updates sent to the old one do not apply.
  void clear() { updates_.clear(); }
  std::size_t size() const { return updates_.size(); }

 private:
  struct Update {
    int64_t round = 0;
    fl::ClientState before;
  };
  void drop_older_than(int64_t round);
  std::deque<Update> updates_;  // oldest first
};

}  // namespace fedsign::net
