// capture::open_xdp(): the AF_XDP backend behind the common Source
// interface, one Source per queue on one shared UMEM.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>

#include "pkg/capture/xdp_source.hpp"
#include "pkg/xdp/builder.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/xdp_traffic.hpp"

namespace {

using namespace netring;
using netring::testing::Netns;
using netring::testing::VethOptions;
using netring::testing::VethPair;

TEST(XdpSource, TwoQueuesThroughTheSourceInterface) {
  Netns a("ca"), b("cb");
  VethOptions vo;
  vo.queues = 2;
  VethPair veth(a, b, vo);
  capture::OpenRequest req;
  req.interface = veth.name_b();
  req.queues = {0, 1};
  req.mode = capture::OpenRequest::Mode::kForceAfXdp;
  req.ring_size = 256;
  req.frame_size = 2048;
  req.snap_len = 100;
  {
    auto sources = b.within([&] { return capture::open_xdp(req); });
    ASSERT_TRUE(sources) << sources.error().message();
    ASSERT_EQ(sources->size(), 2u);
    for (auto& s : *sources) {
      EXPECT_EQ(s->backend(), capture::Backend::kAfXdp);
      EXPECT_STREQ(capture::to_string(s->backend()), "AF_XDP");
      EXPECT_NE(s->describe().find("redirect program native"), std::string::npos) << s->describe();
      EXPECT_GE(s->fd(), 0);
    }
    EXPECT_NE(b.run_ok("ip link show " + veth.name_b()).find("xdp"), std::string::npos);

    constexpr std::uint64_t kPerQueue = 100;
    for (std::uint32_t q = 0; q < 2; ++q) {
      auto tx = a.within([&] {
        return xdp::XdpSocketBuilder()
            .interface(veth.name_a())
            .queue(q)
            .rx_ring(0)
            .tx_ring(256)
            .frame_size(2048)
            .build();
      });
      ASSERT_TRUE(tx) << tx.error().message();
      for (std::uint64_t i = 0; i < kPerQueue; ++i) {
        auto bytes = netring::testing::seq_frame(i, 500, static_cast<std::uint16_t>(3000 + q));
        std::span<const std::byte> one(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size());
        auto r = tx->send(std::span<const std::span<const std::byte>>(&one, 1));
        ASSERT_TRUE(r) << r.error().message();
        ASSERT_EQ(*r, 1u);
      }
      while (tx->tx_outstanding() != 0) ASSERT_TRUE(tx->flush());
    }

    for (std::uint32_t q = 0; q < 2; ++q) {
      capture::Source& src = *(*sources)[q];
      std::uint64_t got = 0;
      capture::PacketView views[32];
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (got < kPerQueue && std::chrono::steady_clock::now() < deadline) {
        auto n = src.poll_batch(views);
        ASSERT_TRUE(n) << n.error().message();
        if (*n == 0) {
          ASSERT_TRUE(src.wait(100));
          continue;
        }
        for (std::size_t i = 0; i < *n; ++i) {
          const auto& v = views[i];
          if (v.orig_len != 500) continue;  // neighbour discovery etc.
          EXPECT_EQ(v.len, 100u) << "snap length";
          EXPECT_EQ(v.queue, q);
          EXPECT_EQ(netring::testing::udp_dport_of(v.data), 3000 + q);
          EXPECT_EQ(netring::testing::seq_of(v.data, v.len), got);
          ++got;
        }
        src.release();
      }
      EXPECT_EQ(got, kPerQueue) << "queue " << q;
      auto st = src.stats();
      EXPECT_GE(st.packets, kPerQueue);
      EXPECT_EQ(st.kernel_drops, 0u);
    }
  }
  // Sources gone: the program is detached with them.
  EXPECT_EQ(b.run_ok("ip link show " + veth.name_b()).find("xdp"), std::string::npos);
}

TEST(XdpSource, ExplainsWhyAfXdpCannotServe) {
  capture::OpenRequest req;
  req.interface = "nr-nosuchif1";
  auto s = capture::open_xdp(req);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("unknown interface"), std::string::npos) << s.error().message();
  Netns n("cn");
  req.interface = "lo";
  req.require_native_xdp = true;
  s = n.within([&] { return capture::open_xdp(req); });
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("native XDP"), std::string::npos) << s.error().message();
}

}  // namespace
