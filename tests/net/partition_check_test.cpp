// The server keeps its clients on one partition (net/partition_check.h).
#include "fedsign/net/partition_check.h"

#include <gtest/gtest.h>

namespace fedsign::net {
namespace {

TEST(PartitionCheck, OnePartitionDistinctIndices) {
  PartitionCheck check;
  EXPECT_TRUE(check.admit("a", "iid clients=3 seed=1", 0).ok());
  EXPECT_TRUE(check.admit("a", "iid clients=3 seed=1", 0).ok()) << "a reconnect is fine";
  EXPECT_TRUE(check.admit("b", "iid clients=3 seed=1", 1).ok());
  const Status same_index = check.admit("c", "iid clients=3 seed=1", 1);
  EXPECT_FALSE(same_index.ok());
  EXPECT_NE(same_index.message.find("index 1"), std::string::npos) << same_index.message;
  const Status other = check.admit("c", "iid clients=4 seed=1", 2);
  EXPECT_FALSE(other.ok());
  EXPECT_NE(other.message.find("clients=4"), std::string::npos) << other.message;
  EXPECT_TRUE(check.admit("d", "", 0).ok()) << "a client that owns its folder is not checked";
}

TEST(PartitionCheck, SurvivesARestart) {
  PartitionCheck check;
  ASSERT_TRUE(check.admit("a", "k", 0).ok());
  PartitionCheck restarted;
  restarted.restore(check.to_json());
  EXPECT_FALSE(restarted.admit("b", "k", 0).ok());
  EXPECT_FALSE(restarted.admit("b", "other", 1).ok());
  EXPECT_TRUE(restarted.admit("a", "k", 0).ok());
}

}  // namespace
}  // namespace fedsign::net
