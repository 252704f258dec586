// AF_XDP TX in one namespace (no BPF program there), RX in the other
// through netring's XSKMAP redirect program, on a real veth pair.
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "pkg/xdp/builder.hpp"
#include "pkg/xdp/features.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/redirected_rx.hpp"
#include "tests/testing/xdp_traffic.hpp"

namespace {

using namespace netring;
using namespace netring::xdp;
using netring::testing::Netns;
using netring::testing::redirected_rx;
using netring::testing::VethPair;

std::size_t size_for(std::uint64_t seq) {
  return 60 + (seq * 37) % 1400;
}

TEST(XdpRxTx, SequencedPacketsArriveWholeAndWrapEveryRing) {
  Netns a("xa"), b("xb");
  VethPair veth(a, b);
  // Small rings so that 100k packets wrap each of them hundreds of times.
  constexpr std::uint32_t kRing = 512;
  constexpr std::uint64_t kPackets = 100000;
  // In flight: never more than the RX ring holds, less room for the few
  // frames that are not ours (a fresh veth's IPv6 router and MLD
  // solicitations) and also take RX slots: with a window of the whole ring,
  // one such frame arriving while the window is full made the kernel drop a
  // sequenced packet as rx_ring_full.
  constexpr std::uint64_t kWindow = kRing - 32;

  auto redirected = redirected_rx(b, veth.ifindex_b(),
                                  XdpSocketBuilder().interface(veth.name_b()).queue(0).rx_ring(kRing).frame_size(2048));
  ASSERT_TRUE(redirected);
  auto& prog = redirected->prog;
  auto& rx = redirected->rx;
  EXPECT_FALSE(rx.zero_copy()) << "veth has no zero-copy";
  auto tx = a.within([&] {
    return XdpSocketBuilder()
        .interface(veth.name_a())
        .queue(0)
        .rx_ring(0)
        .tx_ring(kRing)
        .completion_ring(kRing)
        .frame_size(2048)
        .mode(BindMode::kCopy)
        .build();
  });
  ASSERT_TRUE(tx) << tx.error().message();
  EXPECT_EQ(a.run_ok("ip -d link show " + veth.name_a()).find("prog/xdp"), std::string::npos)
      << "the sending side runs no XDP program";

  std::atomic<std::uint64_t> received{0};
  std::atomic<bool> stop{false};
  std::string tx_error;
  std::thread sender([&] {
    std::uint64_t seq = 0;
    while (seq < kPackets && !stop.load()) {
      const std::uint64_t room = kWindow - std::min(kWindow, seq - received.load(std::memory_order_acquire));
      if (room == 0) {
        if (auto r = tx->flush(); !r) {
          tx_error = r.error().message();
          return;
        }
        std::this_thread::yield();
        continue;
      }
      auto frames = tx->tx_reserve(static_cast<std::uint32_t>(std::min<std::uint64_t>({room, 64, kPackets - seq})));
      for (auto& f : frames) {
        auto bytes = netring::testing::seq_frame(seq, size_for(seq));
        std::memcpy(f.data, bytes.data(), bytes.size());
        f.len = static_cast<std::uint32_t>(bytes.size());
        ++seq;
      }
      if (auto r = tx->tx_submit(static_cast<std::uint32_t>(frames.size())); !r) {
        tx_error = r.error().message();
        return;
      }
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (tx->tx_outstanding() != 0 && std::chrono::steady_clock::now() < deadline && !stop.load()) {
      if (auto r = tx->flush(); !r) {
        tx_error = r.error().message();
        return;
      }
      std::this_thread::yield();
    }
  });

  std::uint64_t next = 0, mismatches = 0, foreign = 0;
  std::string rx_error;
  [&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
    while (next < kPackets && std::chrono::steady_clock::now() < deadline) {
      auto batch = rx.receive(64);
      if (!batch) {
        rx_error = batch.error().message();
        return;
      }
      if (batch->empty()) {
        (void)rx.wait(50);
        continue;
      }
      for (const RxPacket& p : *batch) {
        if (!netring::testing::is_seq_frame(p.data, p.len)) {
          ++foreign;
          continue;
        }
        const std::uint64_t seq = netring::testing::seq_of(p.data, p.len);
        if (seq != next) {
          rx_error = "lost or reordered: got " + std::to_string(seq) + ", expected " + std::to_string(next);
          return;
        }
        auto want = netring::testing::seq_frame(seq, size_for(seq));
        if (p.nfrags != 1 || p.len != want.size() || std::memcmp(p.data, want.data(), want.size()) != 0) ++mismatches;
        ++next;
      }
      rx.release();
      received.store(next, std::memory_order_release);
    }
  }();
  stop = true;
  sender.join();
  EXPECT_TRUE(rx_error.empty()) << rx_error;
  // Completions trail delivery a little (the skb's destructor posts them).
  const auto drain_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (tx->tx_outstanding() != 0 && std::chrono::steady_clock::now() < drain_deadline) {
    ASSERT_TRUE(tx->flush());
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(tx_error.empty()) << tx_error;
  EXPECT_EQ(next, kPackets);
  EXPECT_EQ(mismatches, 0u);

  auto rs = rx.stats();
  ASSERT_TRUE(rs) << rs.error().message();
  EXPECT_EQ(rs->rx_packets, kPackets + foreign);
  EXPECT_EQ(rs->kernel.rx_dropped, 0u);
  EXPECT_EQ(rs->kernel.rx_invalid_descs, 0u);
  EXPECT_EQ(rs->rx_invalid_packets, 0u);
  auto ts = tx->stats();
  ASSERT_TRUE(ts) << ts.error().message();
  EXPECT_EQ(ts->tx_packets, kPackets);
  EXPECT_EQ(ts->tx_completed, kPackets);
  EXPECT_EQ(ts->kernel.tx_invalid_descs, 0u);
  auto c = prog.counters(0);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_GE(c->redirected, kPackets);
  EXPECT_GE(kPackets / kRing, 100u) << "every ring wraps many times";
}

}  // namespace

namespace {

// The less common UMEM and socket options on a real exchange: unaligned
// chunks with a non-power-of-two frame size, RX headroom, TX metadata
// space, busy-poll options, need_wakeup off.
TEST(XdpRxTx, UnalignedHeadroomTxMetadataBusyPoll) {
  Netns a("ua"), b("ub");
  VethPair veth(a, b);
  auto redirected = redirected_rx(b, veth.ifindex_b(),
                                  XdpSocketBuilder()
                                      .interface(veth.name_b())
                                      .rx_ring(64)
                                      .frame_size(3000)
                                      .unaligned(true)
                                      .headroom(128)
                                      .busy_poll({.usecs = 20, .budget = 16, .prefer = true}));
  ASSERT_TRUE(redirected);
  auto& rx = redirected->rx;
  const bool meta = netring::xdp::probe_kernel_features().tx_metadata_len;
  auto tx = a.within([&] {
    return XdpSocketBuilder()
        .interface(veth.name_a())
        .rx_ring(0)
        .tx_ring(64)
        .tx_metadata_len(meta ? 16 : 0)
        .need_wakeup(false)
        .build();
  });
  ASSERT_TRUE(tx) << tx.error().message();
  constexpr std::uint64_t kPackets = 2000;
  std::uint64_t sent = 0, got = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (got < kPackets && std::chrono::steady_clock::now() < deadline) {
    // At most 32 in flight, and never past kPackets: a last batch that
    // overshot made `got` end above kPackets when one receive() caught all
    // of it.
    auto frames = tx->tx_reserve(static_cast<std::uint32_t>(
        std::min<std::uint64_t>({16, 32 - std::min<std::uint64_t>(32, sent - got), kPackets - sent})));
    for (auto& f : frames) {
      auto bytes = netring::testing::seq_frame(sent, size_for(sent));
      ASSERT_LE(bytes.size(), f.capacity);
      std::memcpy(f.data, bytes.data(), bytes.size());
      f.len = static_cast<std::uint32_t>(bytes.size());
      ++sent;
    }
    ASSERT_TRUE(tx->tx_submit(static_cast<std::uint32_t>(frames.size())));
    auto batch = rx.receive(16);
    ASSERT_TRUE(batch) << batch.error().message();
    for (const RxPacket& p : *batch) {
      if (!netring::testing::is_seq_frame(p.data, p.len)) continue;
      const std::uint64_t seq = netring::testing::seq_of(p.data, p.len);
      ASSERT_EQ(seq, got);
      auto want = netring::testing::seq_frame(seq, size_for(seq));
      ASSERT_EQ(p.len, want.size());
      ASSERT_EQ(std::memcmp(p.data, want.data(), want.size()), 0);
      // Unaligned 3000-byte frames: the data starts after the kernel's 256
      // bytes of XDP headroom and our 128 inside its frame.
      EXPECT_EQ((p.data - rx.umem()->base()) % 3000, 256 + 128);
      ++got;
    }
    rx.release();
  }
  EXPECT_EQ(got, kPackets);
}

// A kick on a downed interface is an error with context, not a retry.
TEST(XdpRxTx, TxKickOnADownInterfaceIsAnError) {
  Netns a("da"), b("db");
  VethPair veth(a, b);
  auto tx = a.within([&] { return XdpSocketBuilder().interface(veth.name_a()).rx_ring(0).tx_ring(64).build(); });
  ASSERT_TRUE(tx) << tx.error().message();
  a.run_ok("ip link set " + veth.name_a() + " down");
  auto bytes = netring::testing::seq_frame(0, 100);
  std::span<const std::byte> one(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size());
  auto r = tx->send(std::span<const std::span<const std::byte>>(&one, 1));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ENETDOWN) << r.error().message();
  EXPECT_NE(r.error().message().find(veth.name_a()), std::string::npos) << r.error().message();
}

}  // namespace

namespace {

// The single-pass receive path sees the same packets, byte for byte, and
// keeps the fill ring stocked on its own (no release() calls).
TEST(XdpRxTx, ForEachPacketSeesEveryPacket) {
  Netns a("fa"), b("fb");
  VethPair veth(a, b);
  constexpr std::uint32_t kRing = 64;
  auto redirected =
      redirected_rx(b, veth.ifindex_b(), XdpSocketBuilder().interface(veth.name_b()).rx_ring(kRing).frame_size(2048));
  ASSERT_TRUE(redirected);
  auto& rx = redirected->rx;
  auto tx = a.within([&] { return XdpSocketBuilder().interface(veth.name_a()).rx_ring(0).tx_ring(kRing).build(); });
  ASSERT_TRUE(tx) << tx.error().message();
  constexpr std::uint64_t kPackets = 20000;  // the 128-frame fill ring turns over ~150 times
  std::uint64_t sent = 0, got = 0, mismatches = 0;
  std::string order_error;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (got < kPackets && order_error.empty() && std::chrono::steady_clock::now() < deadline) {
    const std::uint64_t room = kRing / 2 - std::min<std::uint64_t>(kRing / 2, sent - got);
    auto frames = tx->tx_reserve(static_cast<std::uint32_t>(std::min(room, kPackets - sent)));
    for (auto& f : frames) {
      auto bytes = netring::testing::seq_frame(sent, size_for(sent));
      std::memcpy(f.data, bytes.data(), bytes.size());
      f.len = static_cast<std::uint32_t>(bytes.size());
      ++sent;
    }
    ASSERT_TRUE(tx->tx_submit(static_cast<std::uint32_t>(frames.size())));
    auto n = rx.for_each_packet(16, [&](const RxPacket& p) {
      if (!netring::testing::is_seq_frame(p.data, p.len)) return;
      const std::uint64_t seq = netring::testing::seq_of(p.data, p.len);
      if (seq != got && order_error.empty())
        order_error = "got " + std::to_string(seq) + ", expected " + std::to_string(got);
      auto want = netring::testing::seq_frame(seq, size_for(seq));
      if (p.len != want.size() || p.fragments().size() != 1 || std::memcmp(p.data, want.data(), want.size()) != 0)
        ++mismatches;
      ++got;
    });
    ASSERT_TRUE(n) << n.error().message();
    if (*n == 0) (void)rx.wait(10);
  }
  EXPECT_TRUE(order_error.empty()) << order_error;
  EXPECT_EQ(got, kPackets);
  EXPECT_EQ(mismatches, 0u);
  auto st = rx.stats();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->kernel.rx_dropped, 0u);
  EXPECT_EQ(st->kernel.rx_fill_ring_empty_descs, 0u) << "frames went back to the fill ring";
}

}  // namespace
