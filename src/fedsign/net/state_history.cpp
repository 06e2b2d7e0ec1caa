#include "fedsign/net/state_history.h"

#include <algorithm>

namespace fedsign::net {

int64_t StateHistory::rewind(uint64_t incarnation, int64_t resumed_after, int64_t round,
                             fl::ClientState& state) {
  if (incarnation == 0) return 0;
  // An earlier process's updates up to `resumed_after` are in the checkpoint the run resumed
  // from: kept. Its later ones were lost; the earliest of them holds the state to go back to.
  const auto lost = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) {
    return e.incarnation != incarnation && e.round > resumed_after;
  });
  int64_t lost_round = 0;
  if (lost != entries_.end()) {
    lost_round = lost->round;
    state = std::move(lost->before);
    entries_.erase(lost, entries_.end());
  }
  drop_older_than(round - kRounds);
  return lost_round;
}

void StateHistory::taken(uint64_t incarnation, int64_t round, fl::ClientState before) {
  if (incarnation == 0) return;
  entries_.push_back({incarnation, round, std::move(before)});
  drop_older_than(round - kRounds);
}

void StateHistory::drop_older_than(int64_t round) {
  while (!entries_.empty() && entries_.front().round < round) entries_.pop_front();
}

}  // namespace fedsign::net
