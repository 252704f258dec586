// The reader's sizing of the kernel flow maps, on real maps in the kernel:
// a map-in-map slot and two hash maps made as the sampler's are (same key,
// value and flags), filled from user space where the sampler would write.
#include <bpf/bpf.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "bpf/flow_key.h"
#include "pkg/common/fd.hpp"
#include "pkg/kflow/flow_count_reader.hpp"

namespace {

using netring::UniqueFd;
using netring::kflow::flow_map_capacity;
using netring::kflow::FlowCountReader;
using netring::kflow::FlowMapSizing;
using netring::kflow::KernelFlow;

UniqueFd flow_map(std::uint32_t entries) {
  LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
  return UniqueFd(
      bpf_map_create(BPF_MAP_TYPE_HASH, "flows", sizeof(netring_flow_key), sizeof(netring_flow_counts), entries, &o));
}

class FlowMapSizingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a = flow_map(64);
    b = flow_map(64);
    ASSERT_TRUE(a && b) << std::strerror(errno);
    LIBBPF_OPTS(bpf_map_create_opts, o, .inner_map_fd = static_cast<__u32>(a.get()));
    slots = UniqueFd(bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "slots", 4, 4, 1, &o));
    ASSERT_TRUE(slots) << std::strerror(errno);
    put_in_slot(a.get());
  }

  void put_in_slot(int fd) {
    const std::uint32_t zero = 0, v = static_cast<std::uint32_t>(fd);
    ASSERT_EQ(bpf_map_update_elem(slots.get(), &zero, &v, BPF_ANY), 0) << std::strerror(errno);
  }

  // The map the slot holds now, as the sampler would find it.
  UniqueFd in_slot() const {
    const std::uint32_t zero = 0;
    std::uint32_t id = 0;
    EXPECT_EQ(bpf_map_lookup_elem(slots.get(), &zero, &id), 0);
    return UniqueFd(bpf_map_get_fd_by_id(id));
  }

  static std::uint32_t capacity(int fd) {
    bpf_map_info info{};
    std::uint32_t len = sizeof info;
    EXPECT_EQ(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
    return info.max_entries;
  }

  // Inserts flows numbered [from, from + n) into the slot's map; how many
  // went in (a full map refuses the rest with E2BIG).
  int add_flows(std::uint32_t from, std::uint32_t n) {
    UniqueFd m = in_slot();
    int added = 0;
    for (std::uint32_t i = from; i < from + n; ++i) {
      netring_flow_key k{};
      k.family = 4;
      k.protocol = 17;
      k.src_port = static_cast<std::uint16_t>(i);
      k.dst_port = static_cast<std::uint16_t>(i >> 16);
      netring_flow_counts c{};
      c.packets = c.skbs = 1;
      if (bpf_map_update_elem(m.get(), &k, &c, BPF_NOEXIST) == 0)
        ++added;
      else
        EXPECT_EQ(errno, E2BIG);
    }
    return added;
  }

  std::size_t drain(FlowCountReader& r) {
    std::vector<KernelFlow> out;
    auto n = r.drain(out);
    EXPECT_TRUE(n) << n.error().message();
    return out.size();
  }

  UniqueFd a, b, slots;
};

TEST(FlowMapCapacity, AQuarterMoreAsAPowerOfTwoFourTimesWhenFullWithinTheRange) {
  const FlowMapSizing s{64, 1000, 30};
  EXPECT_EQ(flow_map_capacity(0, 64, s), 64u);       // never below the minimum
  EXPECT_EQ(flow_map_capacity(100, 256, s), 128u);   // 126 wanted
  EXPECT_EQ(flow_map_capacity(103, 256, s), 256u);   // 129 wanted
  EXPECT_EQ(flow_map_capacity(64, 64, s), 256u);     // it filled: four times
  EXPECT_EQ(flow_map_capacity(256, 256, s), 1000u);  // ... up to the maximum, not a power of two
  EXPECT_EQ(flow_map_capacity(1000, 1000, s), 1000u);
}

TEST_F(FlowMapSizingTest, AMapThatFilledComesBackFourTimesLarger) {
  FlowCountReader r(slots.get(), a.get(), b.get(), FlowMapSizing{64, 1024, 3});
  EXPECT_EQ(add_flows(0, 100), 64);  // 36 refused: the estimator's
  EXPECT_EQ(drain(r), 64u);          // a out, b in
  EXPECT_EQ(r.stats().resizes, 1u);
  EXPECT_EQ(r.slot_capacity(), 64u);
  EXPECT_EQ(add_flows(0, 10), 10);
  EXPECT_EQ(drain(r), 10u);  // b out (not resized: 13 wanted), the new a in
  EXPECT_EQ(r.stats().resizes, 1u);
  EXPECT_EQ(r.slot_capacity(), 256u);
  EXPECT_EQ(capacity(in_slot().get()), 256u);
  EXPECT_EQ(add_flows(0, 300), 256);
  EXPECT_EQ(drain(r), 256u);  // full again: 1024 (the maximum) next time
  EXPECT_EQ(drain(r), 0u);
  EXPECT_EQ(capacity(in_slot().get()), 1024u);
  EXPECT_EQ(add_flows(0, 2000), 1024);
}

TEST_F(FlowMapSizingTest, AMapShrinksOnlyAfterPeriodsInARowAtMostAQuarterFull) {
  FlowCountReader r(slots.get(), a.get(), b.get(), FlowMapSizing{64, 1024, 3});
  add_flows(0, 100);
  drain(r);  // a: 64 -> 256
  drain(r);  // b
  ASSERT_EQ(r.slot_capacity(), 256u);
  // a's periods: 64 flows (a quarter: under-used 1), 65 (more: the count
  // starts over), then 0, 0, 0: shrunk after the third.
  for (std::uint32_t n : {64u, 65u, 0u, 0u}) {
    EXPECT_EQ(add_flows(0, n), static_cast<int>(n));
    drain(r);  // a out
    drain(r);  // b out, a in again
    EXPECT_EQ(r.slot_capacity(), 256u) << n;
  }
  drain(r);
  drain(r);
  EXPECT_EQ(r.slot_capacity(), 64u);
  EXPECT_EQ(capacity(in_slot().get()), 64u);
  EXPECT_EQ(r.stats().resizes, 2u);
}

// A replacement the kernel refuses (a hash of 2^29 entries: more buckets
// than it allows, E2BIG before it allocates anything) loses nothing: the
// drain still returns its flows, the map keeps its size and its turn.
TEST_F(FlowMapSizingTest, AReplacementTheKernelRefusesLeavesTheMapAsItWas) {
  FlowCountReader r(slots.get(), a.get(), b.get(), FlowMapSizing{1u << 29, 1u << 29, 30});
  EXPECT_EQ(add_flows(0, 10), 10);
  EXPECT_EQ(drain(r), 10u);
  EXPECT_EQ(r.stats().resizes, 0u);
  EXPECT_EQ(r.stats().resize_errors, 1u);
  EXPECT_NE(r.stats().last_resize_error.find("bpf_map_create"), std::string::npos) << r.stats().last_resize_error;
  drain(r);
  EXPECT_EQ(add_flows(0, 5), 5);  // a again, as it was
  EXPECT_EQ(capacity(in_slot().get()), 64u);
  EXPECT_EQ(drain(r), 5u);
}

TEST_F(FlowMapSizingTest, WithoutSizingTheMapsKeepTheirSize) {
  FlowCountReader r(slots.get(), a.get(), b.get());
  add_flows(0, 100);
  drain(r);
  drain(r);
  EXPECT_EQ(r.stats().resizes, 0u);
  EXPECT_EQ(capacity(in_slot().get()), 64u);
}

}  // namespace
