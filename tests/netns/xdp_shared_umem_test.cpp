// Two AF_XDP sockets on two queues of one veth share one UMEM (each with
// its own fill/completion pair) and receive disjoint traffic.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "pkg/xdp/builder.hpp"
#include "pkg/xdp/redirect_program.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/xdp_traffic.hpp"

namespace {

using namespace netring;
using namespace netring::xdp;
using netring::testing::Netns;
using netring::testing::VethOptions;
using netring::testing::VethPair;

TEST(XdpSharedUmem, TwoQueuesOneUmemDisjointTraffic) {
  Netns a("sa"), b("sb");
  VethOptions vo;
  vo.queues = 2;
  VethPair veth(a, b, vo);
  constexpr std::uint32_t kRing = 256;
  constexpr std::uint64_t kPerQueue = 5000;

  auto prog = b.within([&] { return RedirectProgram::attach(veth.ifindex_b()); });
  ASSERT_TRUE(prog) << prog.error().message();

  XdpSocketBuilder proto;
  proto.interface(veth.name_b()).rx_ring(kRing).frame_size(2048);
  UmemConfig uc;
  uc.frame_size = 2048;
  uc.frame_count = 2 * proto.frames_needed();
  auto umem = b.within([&] { return Umem::create(uc); });
  ASSERT_TRUE(umem) << umem.error().message();

  std::vector<XdpSocket> rx;
  for (std::uint32_t q = 0; q < 2; ++q) {
    auto s = b.within([&] { return XdpSocketBuilder(proto).queue(q).shared_umem(*umem).build(); });
    ASSERT_TRUE(s) << "queue " << q << ": " << s.error().message();
    ASSERT_TRUE(prog->register_socket(q, s->fd()));
    rx.push_back(std::move(*s));
  }
  EXPECT_FALSE(rx[0].shares_umem()) << "the first socket binds on the UMEM's own socket";
  EXPECT_TRUE(rx[1].shares_umem());
  EXPECT_EQ(rx[0].umem().get(), rx[1].umem().get());

  // A's TX queue q lands on b's RX queue q (veth keeps the queue mapping
  // dev_direct_xmit gives the skb); queue q carries UDP port 2000 + q.
  std::vector<XdpSocket> tx;
  for (std::uint32_t q = 0; q < 2; ++q) {
    auto s = a.within([&] {
      return XdpSocketBuilder().interface(veth.name_a()).queue(q).rx_ring(0).tx_ring(kRing).frame_size(2048).build();
    });
    ASSERT_TRUE(s) << s.error().message();
    tx.push_back(std::move(*s));
  }

  std::uint64_t sent[2] = {0, 0}, got[2] = {0, 0}, wrong_queue = 0, mismatches = 0;
  const std::byte* lo = (*umem)->base();
  const std::byte* hi = lo + (*umem)->size();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while ((got[0] < kPerQueue || got[1] < kPerQueue) && std::chrono::steady_clock::now() < deadline) {
    for (std::uint32_t q = 0; q < 2; ++q) {
      // Keep at most half an RX ring in flight per queue.
      const std::uint64_t room = kRing / 2 - std::min<std::uint64_t>(kRing / 2, sent[q] - got[q]);
      auto frames = tx[q].tx_reserve(static_cast<std::uint32_t>(std::min(room, kPerQueue - sent[q])));
      for (auto& f : frames) {
        auto bytes = netring::testing::seq_frame(sent[q]++, 200, static_cast<std::uint16_t>(2000 + q));
        std::memcpy(f.data, bytes.data(), bytes.size());
        f.len = static_cast<std::uint32_t>(bytes.size());
      }
      auto r = tx[q].tx_submit(static_cast<std::uint32_t>(frames.size()));
      ASSERT_TRUE(r) << r.error().message();
      ASSERT_TRUE(tx[q].flush());
    }
    for (std::uint32_t q = 0; q < 2; ++q) {
      auto batch = rx[q].receive(64);
      ASSERT_TRUE(batch) << batch.error().message();
      for (const RxPacket& p : *batch) {
        ASSERT_TRUE(p.data >= lo && p.data + p.len <= hi) << "frame outside the shared UMEM";
        if (netring::testing::is_seq_frame(p.data, p.len, static_cast<std::uint16_t>(2000 + (1 - q)))) {
          ++wrong_queue;
          continue;
        }
        if (!netring::testing::is_seq_frame(p.data, p.len, static_cast<std::uint16_t>(2000 + q))) continue;
        const std::uint64_t seq = netring::testing::seq_of(p.data, p.len);
        ASSERT_EQ(seq, got[q]) << "queue " << q;
        auto want = netring::testing::seq_frame(seq, 200, static_cast<std::uint16_t>(2000 + q));
        if (p.len != want.size() || std::memcmp(p.data, want.data(), want.size()) != 0) ++mismatches;
        ++got[q];
      }
      rx[q].release();
    }
  }
  EXPECT_EQ(got[0], kPerQueue);
  EXPECT_EQ(got[1], kPerQueue);
  EXPECT_EQ(wrong_queue, 0u);
  EXPECT_EQ(mismatches, 0u);
  for (std::uint32_t q = 0; q < 2; ++q) {
    auto st = rx[q].stats();
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_EQ(st->kernel.rx_dropped, 0u) << "queue " << q;
    auto c = prog->counters(q);
    ASSERT_TRUE(c);
    EXPECT_GE(c->redirected, kPerQueue) << "queue " << q;
  }
}

TEST(XdpSharedUmem, TooFewFramesIsAClearError) {
  Netns b("sc");
  Netns a("sd");
  VethOptions vo;
  vo.queues = 2;
  VethPair veth(a, b, vo);
  UmemConfig uc;
  uc.frame_size = 2048;
  uc.frame_count = 512;  // one socket's worth (fill ring 2 x 256)
  auto umem = b.within([&] { return Umem::create(uc); });
  ASSERT_TRUE(umem) << umem.error().message();
  auto s0 = b.within(
      [&] { return XdpSocketBuilder().interface(veth.name_b()).queue(0).rx_ring(256).shared_umem(*umem).build(); });
  ASSERT_TRUE(s0) << s0.error().message();
  auto s1 = b.within(
      [&] { return XdpSocketBuilder().interface(veth.name_b()).queue(1).rx_ring(256).shared_umem(*umem).build(); });
  ASSERT_FALSE(s1);
  EXPECT_EQ(s1.error().code(), ENOBUFS);
  EXPECT_NE(s1.error().message().find("free frames"), std::string::npos) << s1.error().message();
}

// Traffic on queue q of `rx` arrives through the redirect program: sends
// n frames from a's queue q and counts those read on rx.
std::uint64_t exchange(const Netns& a, const VethPair& veth, std::uint32_t q, XdpSocket& rx, std::uint64_t n) {
  auto tx = a.within([&] {
    return XdpSocketBuilder().interface(veth.name_a()).queue(q).rx_ring(0).tx_ring(256).frame_size(2048).build();
  });
  EXPECT_TRUE(tx) << tx.error().message();
  if (!tx) return 0;
  std::uint64_t sent = 0, got = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (got < n && std::chrono::steady_clock::now() < deadline) {
    const std::uint64_t room = 64 - std::min<std::uint64_t>(64, sent - got);
    auto frames = tx->tx_reserve(static_cast<std::uint32_t>(std::min(room, n - sent)));
    for (auto& f : frames) {
      auto bytes = netring::testing::seq_frame(sent++, 200, static_cast<std::uint16_t>(2000 + q));
      std::memcpy(f.data, bytes.data(), bytes.size());
      f.len = static_cast<std::uint32_t>(bytes.size());
    }
    if (!tx->tx_submit(static_cast<std::uint32_t>(frames.size())) || !tx->flush()) break;
    auto batch = rx.receive(64);
    if (!batch) break;
    for (const RxPacket& p : *batch)
      if (netring::testing::is_seq_frame(p.data, p.len, static_cast<std::uint16_t>(2000 + q))) ++got;
    rx.release();
  }
  return got;
}

// A queue held by a socket on another UMEM: binding there fails with EBUSY
// after the builder took frames and (for a first socket) sized the rings of
// the UMEM's registration socket.
XdpSocket occupy(const Netns& b, const VethPair& veth, std::uint32_t q) {
  auto s = b.within([&] { return XdpSocketBuilder().interface(veth.name_b()).queue(q).rx_ring(64).build(); });
  EXPECT_TRUE(s) << s.error().message();
  return std::move(*s);
}

TEST(XdpSharedUmem, AFailedFirstSocketGivesEverythingBackAndTheUmemServesTheNext) {
  Netns a("ua"), b("ub");
  VethOptions vo;
  vo.queues = 2;
  VethPair veth(a, b, vo);
  auto prog = b.within([&] { return RedirectProgram::attach(veth.ifindex_b()); });
  ASSERT_TRUE(prog) << prog.error().message();
  UmemConfig uc;
  uc.frame_size = 2048;
  uc.frame_count = 1024;
  auto umem = b.within([&] { return Umem::create(uc); });
  ASSERT_TRUE(umem) << umem.error().message();

  std::optional<XdpSocket> busy(occupy(b, veth, 0));
  auto failed = b.within(
      [&] { return XdpSocketBuilder().interface(veth.name_b()).queue(0).rx_ring(256).shared_umem(*umem).build(); });
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), EBUSY) << failed.error().message();
  EXPECT_EQ((*umem)->frames_left(), 1024u) << "the failed socket's 512 frames must come back";

  // The next socket is the UMEM's first, on its registration socket, with
  // other ring sizes than the failed one set there.
  auto first = b.within(
      [&] { return XdpSocketBuilder().interface(veth.name_b()).queue(1).rx_ring(128).shared_umem(*umem).build(); });
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_FALSE(first->shares_umem());
  EXPECT_EQ((*umem)->frames_left(), 1024u - 256u);
  ASSERT_TRUE(prog->register_socket(1, first->fd()));
  EXPECT_EQ(exchange(a, veth, 1, *first, 500), 500u);

  // Queue 0 freed: a shared socket binds there now.
  busy.reset();
  std::optional<Result<XdpSocket>> second;
  for (int i = 0; i < 100; ++i) {  // the kernel releases the queue asynchronously
    second.emplace(b.within(
        [&] { return XdpSocketBuilder().interface(veth.name_b()).queue(0).rx_ring(256).shared_umem(*umem).build(); }));
    if (second->ok() || second->error().code() != EBUSY) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(second->ok()) << second->error().message();
  XdpSocket& shared = second->value();
  EXPECT_TRUE(shared.shares_umem());
  ASSERT_TRUE(prog->register_socket(0, shared.fd()));
  EXPECT_EQ(exchange(a, veth, 0, shared, 500), 500u);
}

TEST(XdpSharedUmem, AFailedSharedSocketGivesItsFramesBack) {
  Netns a("va"), b("vb");
  VethOptions vo;
  vo.queues = 2;
  VethPair veth(a, b, vo);
  UmemConfig uc;
  uc.frame_size = 2048;
  uc.frame_count = 1024;  // exactly two sockets' worth
  auto umem = b.within([&] { return Umem::create(uc); });
  ASSERT_TRUE(umem) << umem.error().message();
  auto s0 = b.within(
      [&] { return XdpSocketBuilder().interface(veth.name_b()).queue(0).rx_ring(256).shared_umem(*umem).build(); });
  ASSERT_TRUE(s0) << s0.error().message();

  std::optional<XdpSocket> busy(occupy(b, veth, 1));
  for (int attempt = 0; attempt < 3; ++attempt) {  // no frames lost however often it fails
    auto s1 = b.within(
        [&] { return XdpSocketBuilder().interface(veth.name_b()).queue(1).rx_ring(256).shared_umem(*umem).build(); });
    ASSERT_FALSE(s1);
    EXPECT_EQ(s1.error().code(), EBUSY) << s1.error().message();
    EXPECT_EQ((*umem)->frames_left(), 512u);
  }
  busy.reset();
  std::optional<Result<XdpSocket>> s1;
  for (int i = 0; i < 100; ++i) {
    s1.emplace(b.within(
        [&] { return XdpSocketBuilder().interface(veth.name_b()).queue(1).rx_ring(256).shared_umem(*umem).build(); }));
    if (s1->ok() || s1->error().code() != EBUSY) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(s1->ok()) << s1->error().message();
  EXPECT_EQ((*umem)->frames_left(), 0u);
}

}  // namespace
