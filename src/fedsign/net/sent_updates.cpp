#include "fedsign/net/sent_updates.h"

#include <algorithm>

namespace fedsign::net {

void SentUpdates::sent(int64_t round, fl::ClientState before) {
  updates_.push_back({round, std::move(before)});
  drop_older_than(round - kRounds);
}

int64_t SentUpdates::settle(std::optional<int64_t> last_taken, int64_t round,
                            fl::ClientState& state) {
  int64_t lost_round = 0;
  if (last_taken) {
    const auto lost = std::find_if(updates_.begin(), updates_.end(),
                                   [&](const Update& u) { return u.round > *last_taken; });
    if (lost != updates_.end()) {
      lost_round = lost->round;
      state = std::move(lost->before);
      updates_.erase(lost, updates_.end());
    }
  }
  drop_older_than(round - kRounds);
  return lost_round;
}

void SentUpdates::drop_older_than(int64_t round) {
  while (!updates_.empty() && updates_.front().round < round) updates_.pop_front();
}

}  // namespace fedsign::net
