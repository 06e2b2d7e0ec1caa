// A network client's sent updates: the state from before them stands or comes back by what the
// server's next FIT task says its model holds (net/sent_updates.h).
#include "fedsign/net/sent_updates.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace fedsign::net {
namespace {

// A state whose control variate is the one value `tag` (the state after `tag` updates).
fl::ClientState state_after(int tag) {
  fl::ClientState s;
  s.control = fl::Weights{{"w"}, {torch::full({2}, static_cast<float>(tag))}};
  return s;
}

int tag_of(const fl::ClientState& s) {
  return s.control ? static_cast<int>(s.control->tensors[0][0].item<float>()) : -1;
}

// Updates sent in rounds 3, 5 and 6; the state after them is 3.
struct Sent : ::testing::Test {
  void SetUp() override {
    sent.sent(3, fl::ClientState{});  // before round 3: nothing yet
    sent.sent(5, state_after(1));
    sent.sent(6, state_after(2));
    state = state_after(3);
  }
  SentUpdates sent;
  fl::ClientState state;
};

TEST_F(Sent, AServerThatHoldsEveryUpdateKeepsTheNewState) {
  EXPECT_EQ(sent.settle(6, 7, state), 0);
  EXPECT_EQ(tag_of(state), 3);
  EXPECT_EQ(sent.size(), 3u) << "kept: a later crash may still lose them";
}

TEST_F(Sent, AServerThatLostRoundsFiveAndSixGivesTheStateFromBeforeRoundFive) {
  // A restarted server resumed from round 4 (it had taken 5 and 6 in memory before the crash).
  EXPECT_EQ(sent.settle(3, 5, state), 5) << "the earliest lost update's round";
  EXPECT_EQ(tag_of(state), 1);
  EXPECT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent.settle(3, 6, state), 0) << "once only";
  EXPECT_EQ(tag_of(state), 1);
}

TEST_F(Sent, OnlyTheLastUpdateMissingGivesTheStateFromBeforeIt) {
  // The upload of round 6 was lost with its connection, or round 6 kept the old model.
  EXPECT_EQ(sent.settle(5, 7, state), 6);
  EXPECT_EQ(tag_of(state), 2);
}

TEST_F(Sent, EveryUpdateLostGivesTheEmptyStartingState) {
  EXPECT_EQ(sent.settle(0, 3, state), 3);
  EXPECT_TRUE(state.empty());
  EXPECT_EQ(sent.size(), 0u);
}

TEST_F(Sent, AServerThatDoesNotSayKeepsTheNewState) {
  EXPECT_EQ(sent.settle(std::nullopt, 7, state), 0);
  EXPECT_EQ(tag_of(state), 3);
}

TEST_F(Sent, UpdatesOlderThanACrashCanLoseAreDropped) {
  // The newest task is round 10: a crash can lose from round 10 - kRounds = 6 on, so the
  // updates of rounds 3 and 5 go.
  sent.sent(10, state_after(3));
  EXPECT_EQ(sent.size(), 2u);
  state = state_after(4);
  EXPECT_EQ(sent.settle(8, 11, state), 10);
  EXPECT_EQ(tag_of(state), 3);
  EXPECT_EQ(sent.size(), 0u) << "round 6 is older than 11 - kRounds";
}

TEST_F(Sent, ANewRunDropsThemAll) {
  sent.clear();
  EXPECT_EQ(sent.settle(0, 7, state), 0);
  EXPECT_EQ(tag_of(state), 3);
}

}  // namespace
}  // namespace fedsign::net
