// Multi-buffer RX (XDP_USE_SG): on an MTU 9000 veth, frames of up to 9000
// bytes arrive on 4096-byte chunks as several fragments, whole and in order.
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "pkg/common/fd.hpp"
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
using netring::testing::VethOptions;
using netring::testing::VethPair;

std::size_t size_for(std::uint64_t seq) {
  // Mostly jumbo frames, some that fit one chunk, and the 9000-byte maximum.
  if (seq % 5 == 0) return 9000;
  if (seq % 7 == 0) return 300;
  return 4000 + (seq * 613) % 5000;
}

TEST(XdpMultiBuffer, JumboFramesArriveWhole) {
  if (!probe_kernel_features().multi_buffer) GTEST_SKIP() << "kernel without AF_XDP multi-buffer (6.6+)";
  Netns a("ma"), b("mb");
  VethOptions vo;
  vo.mtu = 9000;
  VethPair veth(a, b, vo);

  // Native XDP on a veth whose peer MTU needs several pages per packet
  // attaches only because the program is "xdp.frags".
  auto redirected = redirected_rx(
      b, veth.ifindex_b(),
      XdpSocketBuilder().interface(veth.name_b()).queue(0).rx_ring(256).frame_size(4096).multi_buffer(true),
      {.require_native = true});
  ASSERT_TRUE(redirected);
  auto& prog = redirected->prog;
  auto& rx = redirected->rx;
  EXPECT_TRUE(prog.native());
  EXPECT_TRUE(rx.multi_buffer());

  // The sender is a plain AF_PACKET socket: the point here is RX.
  UniqueFd pkt = a.within([] { return UniqueFd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0)); });
  ASSERT_TRUE(pkt.valid()) << std::strerror(errno);
  struct sockaddr_ll to {};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = veth.ifindex_a();
  to.sll_halen = ETH_ALEN;

  constexpr std::uint64_t kPackets = 300;
  constexpr std::uint64_t kChunk = 16;  // 16 x 3 fragments fits the 512-frame fill ring many times over
  std::uint64_t sent = 0, next = 0, mismatches = 0, multi = 0;
  std::vector<std::uint8_t> joined;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (next < kPackets && std::chrono::steady_clock::now() < deadline) {
    while (sent < kPackets && sent - next < kChunk) {
      auto bytes = netring::testing::seq_frame(sent, size_for(sent));
      ASSERT_EQ(::sendto(pkt.get(), bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)),
                static_cast<ssize_t>(bytes.size()))
          << std::strerror(errno);
      ++sent;
    }
    auto batch = rx.receive(8);  // small batches: packets must never be split across them
    ASSERT_TRUE(batch) << batch.error().message();
    if (batch->empty()) {
      (void)rx.wait(50);
      continue;
    }
    for (const RxPacket& p : *batch) {
      joined.clear();
      for (const RxFragment& f : p.fragments())
        joined.insert(joined.end(), reinterpret_cast<const std::uint8_t*>(f.data),
                      reinterpret_cast<const std::uint8_t*>(f.data) + f.len);
      ASSERT_EQ(joined.size(), p.total_len);
      const auto* d = reinterpret_cast<const std::byte*>(joined.data());
      if (!netring::testing::is_seq_frame(d, joined.size())) continue;  // IPv6 ND etc.
      const std::uint64_t seq = netring::testing::seq_of(d, joined.size());
      ASSERT_EQ(seq, next);
      auto want = netring::testing::seq_frame(seq, size_for(seq));
      if (joined != want) ++mismatches;
      if (want.size() > rx.umem()->rx_frame_capacity()) {
        EXPECT_GT(p.nfrags, 1u) << "a " << want.size() << "-byte frame in one 4096-byte chunk?";
        ++multi;
      }
      ++next;
    }
    rx.release();
  }
  EXPECT_EQ(next, kPackets);
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GT(multi, kPackets / 2);
  auto st = rx.stats();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->kernel.rx_dropped, 0u);
  EXPECT_EQ(st->rx_invalid_packets, 0u);
}

}  // namespace
