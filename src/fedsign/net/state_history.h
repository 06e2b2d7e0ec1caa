// A network client's state (SCAFFOLD c_i, FedBN tensors, top-k residual) from before each of its
// recent updates that a server took, so that a server's crash cannot leave the two apart.
//
// A server that takes an update in round R and crashes before its checkpoint of R resumes from an
// earlier round and redoes R: the update is gone from its model and, for SCAFFOLD, from its
// control variate, but the client's state moved with it. Each FIT task says which server process
// made it (an incarnation, random at each start) and the round its run resumed after; an update
// taken by another process in a later round was lost, and the client goes back to the state it
// had before the earliest such update. The redone rounds then start where the first ones did.
//
// What a crash can lose is bounded: the round in progress and those after the checkpoint the
// resume falls back to (the latest, or the generation before it, itself one or two rounds older:
// core/atomic_file.h). Entries older than kRounds rounds before the newest task are dropped.
// The history lives in memory: a client process restarted from --state-file starts without one.
#pragma once

#include <cstdint>
#include <deque>

#include "fedsign/fl/client/client_state.h"

namespace fedsign::net {

class StateHistory {
 public:
  // Rounds kept behind the newest task's round.
  static constexpr int64_t kRounds = 4;

  // Before a FIT task of `round` from server process `incarnation` whose run resumed after
  // `resumed_after`: puts `state` back to before the earliest update that another process took
  // in a round after `resumed_after`, if there is one, and returns that update's round (0: none,
  // `state` untouched). Incarnation 0 (a server that does not send one) changes nothing.
  int64_t rewind(uint64_t incarnation, int64_t resumed_after, int64_t round,
                 fl::ClientState& state);
  // The server took (or may have taken) this client's update of `round` from `incarnation`;
  // `before` is the state the client had before it.
  void taken(uint64_t incarnation, int64_t round, fl::ClientState before);
  // A new federation run: nothing of the old one applies.
  void clear() { entries_.clear(); }
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    uint64_t incarnation = 0;
    int64_t round = 0;
    fl::ClientState before;
  };
  void drop_older_than(int64_t round);
  std::deque<Entry> entries_;  // oldest first
};

}  // namespace fedsign::net
