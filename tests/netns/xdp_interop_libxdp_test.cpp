// Interop: frames a sender written against libxdp's xsk API (<xdp/xsk.h>)
// transmits are received by netring's RX through netring's redirect program.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "pkg/xdp/builder.hpp"
#include "tests/testing/libxdp_socket.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/redirected_rx.hpp"
#include "tests/testing/xdp_traffic.hpp"

namespace {

using namespace netring;
using namespace netring::xdp;
using netring::testing::LibxdpSocket;
using netring::testing::Netns;
using netring::testing::redirected_rx;
using netring::testing::VethPair;

std::size_t size_for(std::uint64_t seq) {
  return 64 + (seq * 97) % 1400;
}

TEST(XdpInterop, OurRxReceivesALibxdpSender) {
  Netns a("ja"), b("jb");
  VethPair veth(a, b);
  auto redirected =
      redirected_rx(b, veth.ifindex_b(), XdpSocketBuilder().interface(veth.name_b()).rx_ring(512).frame_size(2048));
  ASSERT_TRUE(redirected);
  auto& rx = redirected->rx;

  std::string err;
  auto ref = a.within([&] { return LibxdpSocket::create(veth.name_a(), 0, 0, 256, 2048, &err); });
  ASSERT_NE(ref, nullptr) << err;

  constexpr std::uint64_t kPackets = 20000;
  std::uint64_t sent = 0, got = 0, mismatches = 0;
  unsigned next_frame = 0, in_flight = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (got < kPackets && std::chrono::steady_clock::now() < deadline) {
    // libxdp side: reap completions, queue up to 32 frames, kick.
    __u32 cidx = 0;
    const unsigned done = xsk_ring_cons__peek(&ref->cq_, 256, &cidx);
    if (done) xsk_ring_cons__release(&ref->cq_, done);
    in_flight -= done;
    const unsigned room = static_cast<unsigned>(std::min<std::uint64_t>(
        {32, ref->tx_frames() - in_flight, kPackets - sent, 256 - std::min<std::uint64_t>(256, sent - got)}));
    __u32 tidx = 0;
    if (room != 0 && xsk_ring_prod__reserve(&ref->tx_, room, &tidx) == room) {
      for (unsigned i = 0; i < room; ++i) {
        const std::uint64_t addr = ref->tx_frame(next_frame++ % ref->tx_frames());
        auto bytes = netring::testing::seq_frame(sent, size_for(sent));
        std::memcpy(ref->area() + addr, bytes.data(), bytes.size());
        xdp_desc* d = xsk_ring_prod__tx_desc(&ref->tx_, tidx + i);
        d->addr = addr;
        d->len = static_cast<__u32>(bytes.size());
        ++sent;
      }
      xsk_ring_prod__submit(&ref->tx_, room);
      in_flight += room;
    }
    if (xsk_ring_prod__needs_wakeup(&ref->tx_)) ::sendto(ref->fd(), nullptr, 0, MSG_DONTWAIT, nullptr, 0);

    auto batch = rx.receive(64);
    ASSERT_TRUE(batch) << batch.error().message();
    for (const RxPacket& p : *batch) {
      if (!netring::testing::is_seq_frame(p.data, p.len)) continue;
      const std::uint64_t seq = netring::testing::seq_of(p.data, p.len);
      ASSERT_EQ(seq, got);
      auto want = netring::testing::seq_frame(seq, size_for(seq));
      if (p.len != want.size() || std::memcmp(p.data, want.data(), want.size()) != 0) ++mismatches;
      ++got;
    }
    rx.release();
  }
  EXPECT_EQ(got, kPackets);
  EXPECT_EQ(mismatches, 0u);
  auto st = rx.stats();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->kernel.rx_dropped, 0u);
}

}  // namespace
