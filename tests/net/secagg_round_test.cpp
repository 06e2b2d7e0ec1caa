// The server's secure-aggregation round (net/secagg_round.h) driven in-process by real protocol
// clients: steps close when every client did them or at their timeout, late or unsampled
// clients are refused, a client dropping after the key steps is recovered, and too few clients
// fail the round for everyone.
#include <gtest/gtest.h>

#include <future>

#include "fedsign/core/check.h"
#include "fedsign/fl/privacy/fixed_point.h"
#include "fedsign/net/secagg_round.h"

namespace fedsign::net {
namespace {

using namespace std::chrono_literals;
namespace privacy = fl::privacy;
using Clock = SecAggRound::Clock;

std::vector<uint32_t> input_of(int64_t id) {
  return {static_cast<uint32_t>(10 * id + 1), static_cast<uint32_t>(-id), 1000u};
}

TEST(SecAggRound, ClientDroppingAfterTheKeyStepsIsRecoveredFromTheOthersShares) {
  SecAggRound round(5, {0, 1, 2, 3}, /*threshold=*/3, /*input_length=*/3, 10s);
  std::vector<privacy::SecAggClient> clients;
  for (int64_t id = 0; id < 4; ++id) clients.emplace_back(id, 3, 100 + id);
  for (auto& c : clients) ASSERT_TRUE(round.advertise(c.id(), c.advertise()).ok());
  bool ready = false;
  std::vector<privacy::AdvertisedKeys> keys;
  // Everyone advertised: the step is closed at once, no timeout needed.
  ASSERT_TRUE(round.keys(0, Clock::now(), &keys, &ready).ok());
  ASSERT_TRUE(ready);
  ASSERT_EQ(keys.size(), 4u);
  for (auto& c : clients) ASSERT_TRUE(round.share(c.id(), c.share_keys(keys)).ok());
  std::vector<uint32_t> expected(3, 0);
  for (int64_t id = 0; id < 3; ++id) {  // client 3 drops out before its masked input
    std::vector<privacy::EncryptedShares> inbox;
    ASSERT_TRUE(round.shares_for(id, Clock::now(), &inbox, &ready).ok());
    ASSERT_TRUE(ready);
    EXPECT_EQ(inbox.size(), 3u);
    privacy::MaskedInput masked = clients[id].mask(inbox, input_of(id));
    EXPECT_NE(masked.words, input_of(id));
    ASSERT_TRUE(round.masked(id, masked.words).ok());
    privacy::add_words(expected, input_of(id));
  }
  // Survivors wait until the round loop closes the masked-input step (finish()).
  auto sum = std::async(std::launch::async, [&] { return round.finish(); });
  for (int64_t id = 0; id < 3; ++id) {
    std::vector<privacy::ClientId> survivors;
    ASSERT_TRUE(round.survivors(id, Clock::now() + 10s, &survivors, &ready).ok());
    ASSERT_TRUE(ready);
    EXPECT_EQ(survivors, (std::vector<privacy::ClientId>{0, 1, 2}));
    ASSERT_TRUE(round.unmask(id, clients[id].unmask(survivors)).ok());
  }
  EXPECT_EQ(sum.get(), expected);
  EXPECT_EQ(round.survivor_count(), 3);
  // The dropped client cannot come back into a closed step.
  EXPECT_EQ(round.masked(3, input_of(3)).code, Code::kFailedPrecondition);
}

TEST(SecAggRound, StepClosesAtItsTimeoutAndLateOrUnsampledClientsAreRefused) {
  SecAggRound round(1, {0, 1, 2, 3}, 2, 3, 100ms);
  std::vector<privacy::SecAggClient> clients;
  for (int64_t id = 0; id < 4; ++id) clients.emplace_back(id, 2, 7 + id);
  for (int64_t id = 0; id < 3; ++id) ASSERT_TRUE(round.advertise(id, clients[id].advertise()).ok());
  EXPECT_EQ(round.advertise(9, clients[3].advertise()).code, Code::kFailedPrecondition);  // not sampled
  bool ready = true;
  std::vector<privacy::AdvertisedKeys> keys;
  // Still open (client 3 may come): a short poll answers "not ready".
  ASSERT_TRUE(round.keys(0, Clock::now(), &keys, &ready).ok());
  EXPECT_FALSE(ready);
  const auto start = Clock::now();
  ASSERT_TRUE(round.keys(0, Clock::now() + 5s, &keys, &ready).ok());
  EXPECT_TRUE(ready);
  EXPECT_LT(Clock::now() - start, 2s);  // closed by the step timeout, not the poll's
  EXPECT_EQ(keys.size(), 3u);
  EXPECT_EQ(round.advertise(3, clients[3].advertise()).code, Code::kFailedPrecondition);
  EXPECT_EQ(round.keys(3, Clock::now(), &keys, &ready).code, Code::kFailedPrecondition);
}

TEST(SecAggRound, FewerClientsThanTheThresholdFailTheRoundForEveryone) {
  SecAggRound round(2, {0, 1, 2}, 3, 3, 50ms);
  privacy::SecAggClient a(0, 3, 1), b(1, 3, 2);
  ASSERT_TRUE(round.advertise(0, a.advertise()).ok());
  ASSERT_TRUE(round.advertise(1, b.advertise()).ok());
  bool ready = false;
  std::vector<privacy::AdvertisedKeys> keys;
  const Status s = round.keys(0, Clock::now() + 5s, &keys, &ready);
  EXPECT_EQ(s.code, Code::kFailedPrecondition);
  EXPECT_NE(s.message.find("2 of 3 sampled clients advertised keys, threshold is 3"),
            std::string::npos) << s.message;
  EXPECT_THROW(round.finish(), fedsign::Error);
}

}  // namespace
}  // namespace fedsign::net
