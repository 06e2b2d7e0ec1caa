// ClientThreads (fl/run/client_threads.h): results are consumed in order whatever order the
// work finishes in, work runs at most 2 x slots items ahead of consume, each thread keeps its
// slot, a failed item's exception reaches run() at its turn, and a failing consume stops the
// rest; the threads serve the next run afterwards.
#include "fedsign/fl/run/client_threads.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace fedsign::fl {
namespace {

TEST(ClientThreads, ConsumesInOrderWithinTheWindow) {
  std::atomic<int> started{0};
  ClientThreads threads(3, [&](int) { ++started; });
  std::vector<int> order;
  std::vector<std::set<int>> slots_of(20);
  std::atomic<std::size_t> consumed{0};
  std::atomic<std::size_t> most_ahead{0};
  std::mutex mutex;
  threads.run(
      20,
      [&](std::size_t i, int slot) {
        const std::size_t ahead = i - consumed.load();
        std::size_t seen = most_ahead.load();
        while (ahead > seen && !most_ahead.compare_exchange_weak(seen, ahead)) {}
        // Early items take longest, so later ones finish first.
        std::this_thread::sleep_for(std::chrono::milliseconds(i % 3 == 0 ? 6 : 1));
        std::lock_guard lock(mutex);
        slots_of[i].insert(slot);
      },
      [&](std::size_t i) {
        order.push_back(static_cast<int>(i));
        consumed = i + 1;
      });
  EXPECT_EQ(started.load(), 3);
  ASSERT_EQ(order.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(order[i], i);
  EXPECT_LT(most_ahead.load(), 6u) << "work ran more than 2 x 3 items ahead of consume";
  for (const auto& s : slots_of) {
    ASSERT_EQ(s.size(), 1u);
    EXPECT_GE(*s.begin(), 0);
    EXPECT_LT(*s.begin(), 3);
  }
}

TEST(ClientThreads, AFailedItemIsRethrownAtItsTurnAndAFailedConsumeStops) {
  ClientThreads threads(2, {});
  std::vector<std::size_t> consumed;
  EXPECT_THROW(threads.run(
                   8,
                   [](std::size_t i, int) {
                     if (i == 3) throw std::runtime_error("client 3 failed");
                   },
                   [&](std::size_t i) { consumed.push_back(i); }),
               std::runtime_error);
  EXPECT_EQ(consumed, (std::vector<std::size_t>{0, 1, 2}));

  std::atomic<std::size_t> worked{0};
  EXPECT_THROW(threads.run(
                   100, [&](std::size_t, int) { ++worked; },
                   [](std::size_t i) {
                     if (i == 1) throw std::runtime_error("aggregation refused");
                   }),
               std::runtime_error);
  EXPECT_LE(worked.load(), 2u + 4u) << "work went on after consume failed";

  std::size_t count = 0;
  threads.run(5, [](std::size_t, int) {}, [&](std::size_t) { ++count; });
  EXPECT_EQ(count, 5u) << "the threads serve the next run";
}

TEST(ClientThreads, RefusesNoSlots) {
  EXPECT_ANY_THROW(ClientThreads(0, {}));
}

}  // namespace
}  // namespace fedsign::fl
