// The store's snapshots, and the publisher's reuse of a retired snapshot's
// flow array: only when nothing else holds that snapshot.
#include <gtest/gtest.h>

#include <memory>

#include "agent/model.hpp"

namespace netring::agent {
namespace {

AgentSnapshot with_flows(std::size_t n) {
  AgentSnapshot s;
  for (std::size_t i = 0; i < n; ++i) {
    FlowView f;
    f.id = i + 1;
    f.samples = 10 * (i + 1);
    s.flows.push_back(f);
  }
  return s;
}

TEST(SnapshotStore, EachPublicationIsANewerGeneration) {
  SnapshotStore store;
  const std::uint64_t g0 = store.snapshot()->generation;
  store.publish(with_flows(2));
  auto a = store.snapshot();
  EXPECT_GT(a->generation, g0);
  EXPECT_EQ(a->flows.size(), 2u);
  store.publish(with_flows(3));
  EXPECT_GT(store.snapshot()->generation, a->generation);
  EXPECT_EQ(a->flows.size(), 2u) << "a reader's snapshot never changes";
}

TEST(ReclaimFlows, TakesTheArrayOfASnapshotNobodyElseHolds) {
  SnapshotStore store;
  store.publish(with_flows(100));
  auto retired = store.snapshot();
  store.publish(with_flows(1));  // the store lets go of it
  const FlowView* storage = retired->flows.data();
  std::vector<FlowView> v = reclaim_flows(std::move(retired));
  EXPECT_TRUE(v.empty());
  EXPECT_GE(v.capacity(), 100u);
  EXPECT_EQ(v.data(), storage) << "the same memory, not a new allocation";
}

TEST(ReclaimFlows, LeavesASnapshotAReaderStillHoldsAlone) {
  SnapshotStore store;
  store.publish(with_flows(100));
  auto retired = store.snapshot();
  auto reader = retired;  // e.g. a follow stream between two writes
  store.publish(with_flows(1));
  std::vector<FlowView> v = reclaim_flows(std::move(retired));
  EXPECT_EQ(v.capacity(), 0u);
  ASSERT_EQ(reader->flows.size(), 100u);
  EXPECT_EQ(reader->flows[99].samples, 1000u);

  // Nor one the store still publishes.
  auto current = store.snapshot();
  const std::size_t n = current->flows.size();
  v = reclaim_flows(current);
  EXPECT_EQ(v.capacity(), 0u);
  EXPECT_EQ(store.snapshot()->flows.size(), n);
}

}  // namespace
}  // namespace netring::agent
