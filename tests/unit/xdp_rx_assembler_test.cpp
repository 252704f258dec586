// RX descriptor -> packet assembly on a fake RX ring and UMEM: multi-buffer
// runs, batches that must not end inside a packet, bad fragments.
#include <gtest/gtest.h>

#include <vector>

#include "pkg/xdp/rx_assembler.hpp"

namespace {

using namespace netring::xdp;

struct Fixture {
  static constexpr std::uint32_t kFrame = 4096;
  Fixture() : umem(16 * kFrame), descs(16) {}
  RingView view() { return RingView{&prod, &cons, &flags, descs.data(), 16}; }
  UmemLayout layout() { return UmemLayout{umem.data(), umem.size(), kFrame, false}; }
  void push(std::uint64_t addr, std::uint32_t len, std::uint32_t options = 0) {
    descs[prod++ & 15] = {addr, len, options};
  }
  std::vector<std::byte> umem;
  std::vector<struct xdp_desc> descs;
  std::uint32_t prod = 0, cons = 0, flags = 0;
  RxPacket packets[16];
  RxFragment frags[16];
};

TEST(XdpRxAssembler, SingleBufferDropsBadDescriptor) {
  Fixture fx;
  fx.push(0 * 4096 + 256, 100);
  fx.push(1 * 4096 + 4000, 200);  // runs past its frame
  fx.push(2 * 4096 + 256, 60);
  fx.push(99 * 4096, 60);  // outside the UMEM
  RxRing rx(fx.view());
  std::uint32_t idx = 0;
  const std::uint32_t n = rx.peek(16, &idx);
  ASSERT_EQ(n, 4u);
  auto a = assemble_single(rx, idx, n, fx.layout(), fx.packets);
  EXPECT_EQ(a.packets, 2u);
  EXPECT_EQ(a.invalid, 2u);
  EXPECT_EQ(a.descs, 4u);
  EXPECT_EQ(a.bytes, 160u);
  EXPECT_EQ(fx.packets[0].data, fx.umem.data() + 256);
  EXPECT_EQ(fx.packets[1].len, 60u);
  ASSERT_EQ(fx.packets[1].fragments().size(), 1u);
  EXPECT_EQ(fx.packets[1].fragments()[0].data, fx.packets[1].data);
}

TEST(XdpRxAssembler, MultiBufferJoinsRunsAndNeverSplitsAPacket) {
  Fixture fx;
  fx.push(0 * 4096, 3000, XDP_PKT_CONTD);
  fx.push(1 * 4096, 3000, XDP_PKT_CONTD);
  fx.push(2 * 4096, 1000);                 // packet 1: 3 fragments, 7000 bytes
  fx.push(3 * 4096, 500);                  // packet 2: 1 fragment
  fx.push(4 * 4096, 3000, XDP_PKT_CONTD);  // packet 3: last fragment not published yet
  RxRing rx(fx.view());
  std::uint32_t idx = 0;
  std::uint32_t n = rx.peek(16, &idx);
  ASSERT_EQ(n, 5u);
  auto a = assemble_multi(rx, idx, n, 16, fx.layout(), fx.packets, fx.frags);
  ASSERT_EQ(a.packets, 2u);
  EXPECT_EQ(a.descs, 4u) << "the incomplete packet is left for the next batch";
  EXPECT_EQ(fx.packets[0].nfrags, 3u);
  EXPECT_EQ(fx.packets[0].total_len, 7000u);
  EXPECT_EQ(fx.packets[0].len, 3000u);
  EXPECT_EQ(fx.packets[0].fragments()[2].data, fx.umem.data() + 2 * 4096);
  EXPECT_EQ(fx.packets[1].total_len, 500u);
  rx.cancel(n - a.descs);
  rx.release(a.descs);

  fx.push(5 * 4096, 10);  // the rest of packet 3
  n = rx.peek(16, &idx);
  ASSERT_EQ(n, 2u);
  a = assemble_multi(rx, idx, n, 16, fx.layout(), fx.packets, fx.frags);
  ASSERT_EQ(a.packets, 1u);
  EXPECT_EQ(fx.packets[0].total_len, 3010u);
  EXPECT_EQ(fx.packets[0].nfrags, 2u);
}

TEST(XdpRxAssembler, MaxPacketsStopsOnAPacketBoundary) {
  Fixture fx;
  for (int p = 0; p < 3; ++p) {
    fx.push((2 * p) * 4096, 100, XDP_PKT_CONTD);
    fx.push((2 * p + 1) * 4096, 100);
  }
  RxRing rx(fx.view());
  std::uint32_t idx = 0;
  const std::uint32_t n = rx.peek(16, &idx);
  auto a = assemble_multi(rx, idx, n, 1, fx.layout(), fx.packets, fx.frags);
  EXPECT_EQ(a.packets, 1u);
  EXPECT_EQ(a.descs, 2u);
}

TEST(XdpRxAssembler, BadFragmentDropsTheWholePacket) {
  Fixture fx;
  fx.push(0 * 4096, 3000, XDP_PKT_CONTD);
  fx.push(1 * 4096 + 3000, 3000, XDP_PKT_CONTD);  // crosses into the next frame
  fx.push(2 * 4096, 100);
  fx.push(3 * 4096, 64);  // a good packet after it
  RxRing rx(fx.view());
  std::uint32_t idx = 0;
  const std::uint32_t n = rx.peek(16, &idx);
  auto a = assemble_multi(rx, idx, n, 16, fx.layout(), fx.packets, fx.frags);
  EXPECT_EQ(a.invalid, 1u);
  ASSERT_EQ(a.packets, 1u);
  EXPECT_EQ(a.descs, 4u) << "the dropped packet's descriptors are consumed (and recycled)";
  EXPECT_EQ(fx.packets[0].total_len, 64u);
  EXPECT_EQ(fx.packets[0].more, &fx.frags[0]) << "the dropped packet's fragment slots are reused";
}

TEST(XdpRxAssembler, UnalignedAddresses) {
  std::vector<std::byte> mem(4 * 3000);
  UmemLayout um{mem.data(), mem.size(), 3000, true};
  const std::uint64_t addr = 3000 | (300ull << XSK_UNALIGNED_BUF_OFFSET_SHIFT);
  EXPECT_EQ(um.data(addr), mem.data() + 3300);
  EXPECT_EQ(um.frame_of(addr), 3000u);
  EXPECT_TRUE(um.contains(addr, 2700));
  EXPECT_FALSE(um.contains(addr, 2701));
}

// The hot-path check (two compares, no short-circuit) against the general
// one, on the edges: frame ends, UMEM end, offsets that would wrap a u64.
TEST(XdpRxAssembler, AlignedCheckMatchesTheGeneralOne) {
  Fixture fx;
  const UmemLayout um = fx.layout();
  const std::uint64_t addrs[] = {
      0,          1,     4095,        4096, 4096 + 256, 15 * 4096, 16 * 4096 - 1, 16 * 4096, 16 * 4096 + 1,
      1ull << 40, ~0ull, ~0ull - 4095};
  const std::uint32_t lens[] = {0, 1, 60, 3840, 4095, 4096, 4097, 0x7fffffffu, 0xffffffffu};
  for (std::uint64_t a : addrs)
    for (std::uint32_t l : lens) {
      const std::uint64_t off = a & 4095, frame = a - off;
      const bool want = frame < um.size && off + l <= 4096;
      EXPECT_EQ(um.contains_aligned(a, l), want) << a << "+" << l;
      EXPECT_EQ(um.contains(a, l), want) << a << "+" << l;
    }
}

TEST(XdpRxAssembler, TakeCheckedCopiesAndFlagsABadBatch) {
  Fixture fx;
  fx.push(0 * 4096 + 256, 100);
  fx.push(3 * 4096 + 256, 60);
  RxRing rx(fx.view());
  std::uint32_t idx = 0;
  ASSERT_EQ(rx.peek(16, &idx), 2u);
  struct xdp_desc batch[16];
  EXPECT_TRUE(take_checked(rx, idx, 2, fx.layout(), batch));
  EXPECT_EQ(batch[0].addr, 256u);
  EXPECT_EQ(batch[1].addr, 3 * 4096u + 256);
  EXPECT_EQ(batch[1].len, 60u);
  rx.release(2);

  // Any one bad descriptor anywhere in the batch sends it to the checked path.
  fx.push(1 * 4096 + 256, 100);
  fx.push(1 * 4096 + 4000, 200);  // runs past its frame
  fx.push(2 * 4096 + 256, 60);
  ASSERT_EQ(rx.peek(16, &idx), 3u);
  EXPECT_FALSE(take_checked(rx, idx, 3, fx.layout(), batch));
  EXPECT_EQ(batch[1].addr, 1 * 4096u + 4000) << "copied all the same";
  rx.release(3);
  fx.push(99 * 4096, 60);  // outside the UMEM
  ASSERT_EQ(rx.peek(16, &idx), 1u);
  EXPECT_FALSE(take_checked(rx, idx, 1, fx.layout(), batch));
  rx.release(1);

  // Across the ring's wrap (16 entries; 6 used so far).
  for (int i = 0; i < 12; ++i) fx.push(static_cast<std::uint64_t>(i) * 4096, 64);
  ASSERT_EQ(rx.peek(16, &idx), 12u);
  EXPECT_TRUE(take_checked(rx, idx, 12, fx.layout(), batch));
  EXPECT_EQ(batch[11].addr, 11 * 4096u);
}

TEST(XdpRxAssembler, TakeCheckedLeavesUnalignedToTheCheckedPath) {
  std::vector<std::byte> mem(4 * 3000);
  std::uint32_t prod = 0, cons = 0, flags = 0;
  std::vector<struct xdp_desc> descs(4);
  descs[prod++ & 3] = {3000, 100, 0};
  RxRing rx(RingView{&prod, &cons, &flags, descs.data(), 4});
  std::uint32_t idx = 0;
  ASSERT_EQ(rx.peek(4, &idx), 1u);
  struct xdp_desc batch[4];
  EXPECT_FALSE(take_checked(rx, idx, 1, UmemLayout{mem.data(), mem.size(), 3000, true}, batch));
}

}  // namespace
