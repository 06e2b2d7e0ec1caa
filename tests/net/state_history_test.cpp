// A network client's state history: which updates a restarted server lost, and the state the
// client goes back to (net/state_history.h).
#include "fedsign/net/state_history.h"

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

constexpr uint64_t kFirst = 11, kRestarted = 22;

// Updates taken in rounds 3, 5 and 6 by the first server process; the state after them is 3.
struct History : ::testing::Test {
  void SetUp() override {
    history.taken(kFirst, 3, fl::ClientState{});  // before round 3: nothing yet
    history.taken(kFirst, 5, state_after(1));
    history.taken(kFirst, 6, state_after(2));
    state = state_after(3);
  }
  StateHistory history;
  fl::ClientState state;
};

TEST_F(History, TheSameServerProcessNeverRewinds) {
  EXPECT_EQ(history.rewind(kFirst, 0, 7, state), 0);
  EXPECT_EQ(tag_of(state), 3);
  EXPECT_EQ(history.size(), 3u);
}

TEST_F(History, ARestartedServerThatLostRoundsFiveAndSixGetsTheStateFromBeforeRoundFive) {
  EXPECT_EQ(history.rewind(kRestarted, 4, 5, state), 5) << "the earliest lost update's round";
  EXPECT_EQ(tag_of(state), 1);
  EXPECT_EQ(history.size(), 1u) << "round 3's update is in the checkpoint the server resumed from";
  EXPECT_EQ(history.rewind(kRestarted, 4, 6, state), 0) << "once only";
  EXPECT_EQ(tag_of(state), 1);
}

TEST_F(History, ARestartedServerThatLostEveryUpdateGetsTheEmptyStartingState) {
  EXPECT_EQ(history.rewind(kRestarted, 2, 3, state), 3);
  EXPECT_TRUE(state.empty());
  EXPECT_EQ(history.size(), 0u);
}

TEST_F(History, ARestartedServerThatKeptEveryUpdateChangesNothing) {
  EXPECT_EQ(history.rewind(kRestarted, 6, 7, state), 0);
  EXPECT_EQ(tag_of(state), 3);
}

TEST_F(History, AServerThatSendsNoIncarnationChangesNothing) {
  EXPECT_EQ(history.rewind(0, 0, 7, state), 0);
  EXPECT_EQ(tag_of(state), 3);
}

TEST_F(History, UpdatesOlderThanTheRoundsACrashCanLoseAreDropped) {
  // The newest task is round 10: a crash can lose from round 10 - kRounds = 6 on, so the
  // updates of rounds 3 and 5 go.
  history.taken(kFirst, 10, state_after(3));
  EXPECT_EQ(history.size(), 2u);
  state = state_after(4);
  EXPECT_EQ(history.rewind(kRestarted, 8, 11, state), 10);
  EXPECT_EQ(tag_of(state), 3);
  EXPECT_EQ(history.size(), 0u) << "round 6 is in the checkpoint, and older than 11 - kRounds";
}

}  // namespace
}  // namespace fedsign::net
