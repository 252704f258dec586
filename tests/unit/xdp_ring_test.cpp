// The AF_XDP ring protocol on ordinary memory: the test plays the kernel's
// side of each ring, so indices can start anywhere (e.g. just below 2^32)
// and every edge is reachable without a socket.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "pkg/xdp/ring.hpp"

namespace {

using netring::xdp::CompletionRing;
using netring::xdp::FillRing;
using netring::xdp::RingView;
using netring::xdp::RxRing;
using netring::xdp::TxRing;

// Shared ring memory with the kernel's half of the protocol.
template <class Entry>
struct FakeRing {
  FakeRing(std::uint32_t size, std::uint32_t start) : entries(size), size(size) { prod = cons = start; }
  RingView view() { return RingView{&prod, &cons, &flags, entries.data(), size}; }

  // Kernel consumes up to n entries of a ring user space produces.
  std::vector<Entry> kernel_consume(std::uint32_t n) {
    std::vector<Entry> out;
    while (n-- > 0 && cons != prod) out.push_back(entries[cons++ & (size - 1)]);
    return out;
  }
  // Kernel produces entries of a ring user space consumes; false when full.
  bool kernel_produce(const Entry& e) {
    if (prod - cons == size) return false;
    entries[prod++ & (size - 1)] = e;
    return true;
  }

  alignas(64) std::uint32_t prod = 0;
  alignas(64) std::uint32_t cons = 0;
  std::uint32_t flags = 0;
  std::vector<Entry> entries;
  std::uint32_t size;
};

TEST(XdpRing, ProducerFullAndEmptyEdges) {
  FakeRing<std::uint64_t> mem(4, 0);
  FillRing r(mem.view());
  std::uint32_t idx = 0;
  EXPECT_EQ(r.free_entries(4), 4u);
  EXPECT_EQ(r.reserve(5, &idx), 0u) << "all-or-nothing reserve beyond the ring";
  ASSERT_EQ(r.reserve(4, &idx), 4u);
  for (std::uint32_t i = 0; i < 4; ++i) r.at(idx + i) = 100 + i;
  EXPECT_EQ(mem.prod, 0u) << "nothing is visible before submit";
  r.submit(4);
  EXPECT_EQ(mem.prod, 4u);
  EXPECT_EQ(r.reserve(1, &idx), 0u) << "ring is full";
  auto got = mem.kernel_consume(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], 100u);
  EXPECT_EQ(got[2], 102u);
  EXPECT_EQ(r.reserve(4, &idx), 0u) << "only 3 free";
  EXPECT_EQ(r.reserve_up_to(4, &idx), 3u);
  EXPECT_EQ(idx, 4u);
  r.unreserve(1);
  EXPECT_EQ(r.pending(), 2u);
  r.at(idx) = 7;
  r.at(idx + 1) = 8;
  r.submit(2);
  EXPECT_EQ(mem.prod, 6u);
  got = mem.kernel_consume(10);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], 103u);
  EXPECT_EQ(got[1], 7u);
  EXPECT_EQ(got[2], 8u);
}

TEST(XdpRing, ConsumerFullAndEmptyEdges) {
  FakeRing<struct xdp_desc> mem(4, 0);
  RxRing r(mem.view());
  std::uint32_t idx = 0;
  EXPECT_EQ(r.peek(4, &idx), 0u) << "empty";
  for (std::uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(mem.kernel_produce({i * 4096ull, 60 + i, 0}));
  EXPECT_FALSE(mem.kernel_produce({0, 0, 0})) << "fake is full";
  ASSERT_EQ(r.peek(3, &idx), 3u) << "partial batch";
  EXPECT_EQ(r.at(idx).len, 60u);
  EXPECT_EQ(r.at(idx + 2).len, 62u);
  EXPECT_EQ(mem.cons, 0u) << "nothing released before release()";
  r.cancel(1);
  EXPECT_EQ(r.outstanding(), 2u);
  r.release(2);
  EXPECT_EQ(mem.cons, 2u);
  ASSERT_EQ(r.peek(8, &idx), 2u) << "the cancelled entry comes back";
  EXPECT_EQ(r.at(idx).len, 62u);
  r.release(2);
  EXPECT_EQ(r.peek(1, &idx), 0u);
}

TEST(XdpRing, SizeOne) {
  FakeRing<std::uint64_t> fill(1, 0);
  FakeRing<std::uint64_t> comp(1, 0);
  FillRing p(fill.view());
  CompletionRing c(comp.view());
  std::uint32_t idx = 0;
  for (std::uint64_t i = 0; i < 10; ++i) {
    ASSERT_EQ(p.reserve(1, &idx), 1u);
    p.at(idx) = i;
    p.submit(1);
    EXPECT_EQ(p.reserve(1, &idx), 0u);
    auto got = fill.kernel_consume(1);
    ASSERT_EQ(got.size(), 1u);
    ASSERT_TRUE(comp.kernel_produce(got[0]));
    EXPECT_FALSE(comp.kernel_produce(99));
    ASSERT_EQ(c.peek(2, &idx), 1u);
    EXPECT_EQ(c.at(idx), i);
    c.release(1);
    EXPECT_EQ(c.peek(1, &idx), 0u);
  }
}

TEST(XdpRing, SizeTwo) {
  FakeRing<struct xdp_desc> mem(2, 0);
  TxRing r(mem.view());
  std::uint32_t idx = 0;
  ASSERT_EQ(r.reserve(2, &idx), 2u);
  r.at(idx) = {1, 1, 0};
  r.at(idx + 1) = {2, 2, 0};
  r.submit(1);  // submit in two steps
  EXPECT_EQ(mem.prod, 1u);
  r.submit(1);
  EXPECT_EQ(mem.prod, 2u);
  EXPECT_EQ(r.reserve_up_to(2, &idx), 0u);
  auto got = mem.kernel_consume(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].addr, 1u);
  EXPECT_EQ(r.reserve_up_to(2, &idx), 1u);
  EXPECT_EQ(idx & 1u, 0u) << "slot 0 is reused";
}

// Indices start 10 below 2^32: the whole exchange straddles the wrap, and
// every batch size from 1 to the ring size is used.
TEST(XdpRing, WrapsAcross2To32) {
  constexpr std::uint32_t kSize = 8;
  constexpr std::uint32_t kStart = 0xFFFFFFF6u;
  FakeRing<std::uint64_t> fill(kSize, kStart);
  FakeRing<struct xdp_desc> rx(kSize, kStart);
  FillRing p(fill.view());
  RxRing c(rx.view());
  std::uint64_t next_put = 0, next_get = 0;
  for (int round = 0; round < 200; ++round) {
    const std::uint32_t batch = 1 + round % kSize;
    std::uint32_t idx = 0;
    const std::uint32_t n = p.reserve_up_to(batch, &idx);
    for (std::uint32_t i = 0; i < n; ++i) p.at(idx + i) = next_put++;
    p.submit(n);
    // Kernel moves fill entries to RX as descriptors, a few at a time.
    for (auto a : fill.kernel_consume(1 + round % 3))
      ASSERT_TRUE(rx.kernel_produce({a, static_cast<std::uint32_t>(a), 0}));
    const std::uint32_t m = c.peek((round * 7) % kSize + 1, &idx);
    for (std::uint32_t i = 0; i < m; ++i) {
      ASSERT_EQ(c.at(idx + i).addr, next_get) << "round " << round;
      ++next_get;
    }
    c.release(m);
    ASSERT_LE(fill.prod - fill.cons, kSize);
    ASSERT_LE(rx.prod - rx.cons, kSize);
  }
  EXPECT_GT(next_get, 100u);
  EXPECT_LT(fill.prod, kStart) << "the producer index wrapped past 2^32";
  EXPECT_LT(rx.cons, kStart) << "the consumer index wrapped past 2^32";
}

// A producer whose cached consumer is stale still sees the space freed
// across the wrap once it refreshes.
TEST(XdpRing, FullRingAtTheWrapRefreshes) {
  FakeRing<std::uint64_t> mem(4, 0xFFFFFFFEu);
  FillRing r(mem.view());
  std::uint32_t idx = 0;
  ASSERT_EQ(r.reserve(4, &idx), 4u);
  EXPECT_EQ(idx, 0xFFFFFFFEu);
  r.submit(4);
  EXPECT_EQ(mem.prod, 2u);
  EXPECT_EQ(r.free_entries(1), 0u);
  mem.kernel_consume(4);
  EXPECT_EQ(r.free_entries(4), 4u);
}

TEST(XdpRing, NeedWakeupFlag) {
  FakeRing<std::uint64_t> mem(4, 0);
  FillRing r(mem.view());
  EXPECT_FALSE(r.needs_wakeup());
  mem.flags = XDP_RING_NEED_WAKEUP;
  EXPECT_TRUE(r.needs_wakeup());
  RingView no_flags = mem.view();
  no_flags.flags = nullptr;  // pre-5.4 kernel layout
  FillRing old(no_flags);
  EXPECT_FALSE(old.needs_wakeup());
}

}  // namespace
