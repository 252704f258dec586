// capture::Source over AF_PACKET: views carry the frame and its metadata,
// statistics come in the common shape, describe() says what was opened.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <map>
#include <thread>

#include "pkg/capture/packet_source.hpp"
#include "tests/testing/capture_helpers.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/raw_sender.hpp"

namespace {

using netring::capture::Backend;
using netring::capture::Direction;
using netring::capture::open_packet;
using netring::capture::PacketSourceOptions;
using netring::capture::PacketView;
using netring::capture::Source;
using netring::testing::Netns;
using netring::testing::numbered_frame;
using netring::testing::RawSender;
using netring::testing::VethPair;

TEST(PacketSource, FanoutMembersDeliverViewsWithMetadataAndStats) {
  Netns a("sa"), b("sb");
  netring::testing::disable_ipv6(a);
  netring::testing::disable_ipv6(b);
  VethPair v(a, b);
  auto opened = b.within([&] {
    return open_packet(
        PacketSourceOptions{.interface = v.name_b(), .ring = {.block_size = 1 << 16, .block_count = 16}, .members = 2});
  });
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  auto& sources = *opened;
  ASSERT_EQ(sources.size(), 2u);
  for (auto& s : sources) {
    EXPECT_EQ(s->backend(), Backend::kAfPacket);
    EXPECT_GE(s->fd(), 0);
    EXPECT_NE(s->describe().find("AF_PACKET " + v.name_b()), std::string::npos) << s->describe();
    EXPECT_NE(s->describe().find("fanout hash group"), std::string::npos) << s->describe();
  }

  // Read once: ifindex_b() runs a command in the namespace (tens of ms here,
  // about a second under an emulated kernel), far too slow per packet.
  const auto ifindex_b = static_cast<std::uint32_t>(v.ifindex_b());
  RawSender tx = a.within([&] { return RawSender(v.name_a()); });
  constexpr std::uint32_t kFrames = 1000;
  // Sent in chunks, each one received before the next goes out: a veth hands
  // frames to the peer through the per-CPU backlog (netdev_max_backlog), which
  // overflows on a loaded or emulated machine when the sender runs ahead; those
  // drops happen before the packet socket and are not what this test is about.
  constexpr std::uint32_t kChunk = 250;
  std::vector<std::vector<std::uint8_t>> sent;
  std::map<std::uint32_t, int> seen;
  std::size_t per_source[2] = {0, 0};
  std::size_t received = 0;
  PacketView batch[32];
  const std::uint64_t t0 = netring::testing::realtime_ns();
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (sent.size() < kFrames && std::chrono::steady_clock::now() < end) {
    for (std::uint32_t i = 0; i < kChunk; ++i) {
      const auto num = static_cast<std::uint32_t>(sent.size());
      sent.push_back(numbered_frame(num, 100, num % 16));
      ASSERT_TRUE(tx.send(sent.back()));
    }
    const auto chunk_end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (received < sent.size() && std::chrono::steady_clock::now() < chunk_end) {
      for (std::size_t s = 0; s < 2; ++s) {
        auto n = sources[s]->poll_batch(batch);
        ASSERT_TRUE(n.ok());
        for (std::size_t i = 0; i < *n; ++i) {
          std::uint32_t num, flow;
          ASSERT_TRUE(netring::testing::parse_numbered(batch[i].data, batch[i].len, num, flow));
          ASSERT_LT(num, sent.size());
          ++seen[num];
          EXPECT_EQ(batch[i].len, sent[num].size());
          EXPECT_EQ(batch[i].orig_len, sent[num].size());
          EXPECT_EQ(std::memcmp(batch[i].data, sent[num].data(), sent[num].size()), 0);
          EXPECT_EQ(batch[i].ifindex, ifindex_b);
          EXPECT_EQ(batch[i].direction, Direction::kIngress);
          EXPECT_GE(batch[i].timestamp_ns + 1000000000ULL, t0);
        }
        per_source[s] += *n;
        received += *n;
        sources[s]->release();
      }
      ASSERT_TRUE(sources[0]->wait(10).ok());
    }
  }
  EXPECT_EQ(sent.size(), kFrames);
  EXPECT_EQ(seen.size(), kFrames);
  for (const auto& [num, n] : seen) EXPECT_EQ(n, 1) << num;
  for (std::size_t s = 0; s < 2; ++s) {
    auto st = sources[s]->stats();
    EXPECT_EQ(st.packets, per_source[s]);
    EXPECT_GT(st.bytes, st.packets * 100);
    EXPECT_EQ(st.kernel_drops, 0u);
  }
}

TEST(PacketSource, ClassicSamplerWhenEbpfIsNotAllowed) {
  Netns b("cb");
  auto opened = b.within([&] {
    return open_packet(PacketSourceOptions{.interface = "lo", .sample_rate = 10, .allow_ebpf_filter = false});
  });
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  EXPECT_NE((*opened)[0]->describe().find("classic 1-in-10 filter"), std::string::npos) << (*opened)[0]->describe();
  auto ebpf = b.within([&] { return open_packet(PacketSourceOptions{.interface = "lo", .sample_rate = 10}); });
  ASSERT_TRUE(ebpf.ok()) << ebpf.error().message();
  EXPECT_NE((*ebpf)[0]->describe().find("eBPF 1-in-10 filter"), std::string::npos) << (*ebpf)[0]->describe();
}

TEST(PacketSource, ErrorsNameTheInterface) {
  auto r = open_packet(PacketSourceOptions{.interface = "nr-missing9"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("nr-missing9"), std::string::npos) << r.error().message();
  auto z = open_packet(PacketSourceOptions{.interface = "lo", .members = 0});
  ASSERT_FALSE(z.ok());
}

}  // namespace
