// TPACKET_V3 capture on a real veth: every frame once, byte-identical, with
// plausible timestamps and metadata; a partly filled block arrives through
// the retire timer; errors name what is wrong.
#include <gtest/gtest.h>

#include <linux/capability.h>
#include <linux/if_packet.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <thread>
#include <vector>

#include "pkg/packet/socket.hpp"
#include "tests/testing/capture_helpers.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/packet_builder.hpp"
#include "tests/testing/raw_sender.hpp"

namespace {

using netring::packet::PacketSocket;
using netring::packet::RingGeometry;
using netring::packet::RingPacket;
using netring::packet::SocketOptions;
using netring::testing::Captured;
using netring::testing::drain;
using netring::testing::Netns;
using netring::testing::numbered_frame;
using netring::testing::open_packet_socket;
using netring::testing::PacketBuilder;
using netring::testing::RawSender;
using netring::testing::realtime_ns;
using netring::testing::VethOptions;
using netring::testing::VethPair;

PacketSocket open_on(const Netns& ns, const std::string& ifname, RingGeometry geo) {
  return open_packet_socket(ns, SocketOptions{.interface = ifname, .ring = geo, .promiscuous = true});
}

TEST(PacketCapture, EveryFrameOnceByteIdenticalWithPlausibleMetadata) {
  Netns a("pa"), b("pb");
  VethPair v(a, b);
  auto sock = open_on(b, v.name_b(), RingGeometry{.block_size = 1 << 16, .block_count = 64});
  EXPECT_EQ(sock.timestamp_source(), netring::packet::TimestampSource::kSoftware) << "veth has no hardware clock";
  RawSender tx = a.within([&] { return RawSender(v.name_a()); });

  constexpr std::uint32_t kFrames = 3000;
  std::vector<std::vector<std::uint8_t>> sent;
  for (std::uint32_t i = 0; i < kFrames; ++i) sent.push_back(numbered_frame(i, 40 + i % 700));
  const std::uint64_t t0 = realtime_ns();
  for (std::uint32_t i = 0; i < kFrames; ++i) {
    ASSERT_TRUE(tx.send(sent[i])) << "send " << i;
    // veth hands frames to the peer's per-CPU backlog (netdev_max_backlog);
    // yielding now and then lets softirq drain it so the test measures
    // capture, not backlog overflow.
    if (i % 100 == 99) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const std::uint64_t t1 = realtime_ns();

  auto got = drain(sock, kFrames, std::chrono::seconds(20));
  ASSERT_EQ(got.size(), kFrames);
  const int b_ifindex = v.ifindex_b();
  std::map<std::uint32_t, int> seen;
  for (const auto& c : got) {
    std::uint32_t i, flow;
    ASSERT_TRUE(netring::testing::parse_numbered(reinterpret_cast<const std::byte*>(c.bytes.data()),
                                                 static_cast<std::uint32_t>(c.bytes.size()), i, flow));
    ASSERT_LT(i, kFrames);
    ++seen[i];
    EXPECT_EQ(c.bytes, sent[i]) << "frame " << i << " is byte-identical";
    EXPECT_EQ(c.meta.len, sent[i].size());
    EXPECT_EQ(c.meta.snaplen, sent[i].size());
    EXPECT_EQ(c.meta.ifindex, static_cast<std::uint32_t>(b_ifindex));
    EXPECT_NE(c.meta.pkttype, PACKET_OUTGOING);
    EXPECT_FALSE(c.meta.vlan_valid());
    EXPECT_FALSE(c.meta.hardware_timestamp());
    // Software stamps come from the same CLOCK_REALTIME; one second of slack
    // each way covers clock adjustments, never the machine's load.
    EXPECT_GE(c.meta.timestamp_ns + 1000000000ULL, t0);
    EXPECT_LE(c.meta.timestamp_ns, t1 + 20000000000ULL);
  }
  EXPECT_EQ(seen.size(), kFrames) << "no frame missing";
  for (const auto& [i, n] : seen) EXPECT_EQ(n, 1) << "frame " << i << " captured once";
  auto st = sock.stats();
  ASSERT_TRUE(st.ok());
  EXPECT_GE(st->packets, kFrames);
  EXPECT_EQ(st->drops, 0u);
}

TEST(PacketCapture, VlanTagIsExposedNotInTheBytes) {
  Netns a("va"), b("vb");
  VethPair v(a, b);
  auto sock = open_on(b, v.name_b(), RingGeometry{.block_size = 1 << 16, .block_count = 4});
  RawSender tx = a.within([&] { return RawSender(v.name_a()); });
  auto tagged = PacketBuilder().eth().vlan(42).ipv4("10.78.0.1", "10.78.0.2").udp(1, 2).payload(20).build();
  auto untagged = PacketBuilder().eth().ipv4("10.78.0.1", "10.78.0.2").udp(1, 2).payload(20).build();
  ASSERT_TRUE(tx.send(tagged));
  auto got = drain(sock, 1, std::chrono::seconds(10));
  ASSERT_EQ(got.size(), 1u);
  // The receive path (skb_vlan_untag) moves the tag into the skb before
  // packet taps run, so the frame arrives without it and the tag is reported.
  EXPECT_TRUE(got[0].meta.vlan_valid());
  EXPECT_EQ(got[0].meta.vlan_tci & 0x0fff, 42);
  EXPECT_EQ(got[0].meta.vlan_tpid, 0x8100);
  EXPECT_EQ(got[0].bytes, untagged);
  EXPECT_EQ(got[0].meta.len, untagged.size());
}

TEST(PacketCapture, RetireTimerDeliversAPartlyFilledBlock) {
  Netns a("ra"), b("rb");
  VethPair v(a, b);
  // 1 MiB blocks: three small frames fill a tiny fraction of one.
  auto sock = open_on(b, v.name_b(), RingGeometry{.block_size = 1 << 20, .block_count = 2, .retire_timeout_ms = 200});
  RawSender tx = a.within([&] { return RawSender(v.name_a()); });
  for (std::uint32_t i = 0; i < 3; ++i) ASSERT_TRUE(tx.send(numbered_frame(i)));
  auto got = drain(sock, 3, std::chrono::seconds(30));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(sock.ring().last_block_status() & TP_STATUS_BLK_TMO) << "closed by the retire timer, not by filling";
}

TEST(PacketCapture, TinyRingWithoutReaderCountsDropsInRunningTotals) {
  Netns a("da"), b("db");
  VethPair v(a, b);
  auto sock = open_on(b, v.name_b(), RingGeometry{.block_size = 4096, .block_count = 2, .frame_size = 2048});
  RawSender tx = a.within([&] { return RawSender(v.name_a()); });
  constexpr int kFrames = 400;
  for (int i = 0; i < kFrames; ++i) {
    ASSERT_TRUE(tx.send(numbered_frame(static_cast<std::uint32_t>(i), 200)));
    if (i == kFrames / 2) {
      // A read halfway: the kernel zeroes its counters, the totals must not.
      ASSERT_TRUE(sock.stats().ok());
    }
  }
  // Let the backlog drain into the socket before the final read.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto st = sock.stats();
  ASSERT_TRUE(st.ok()) << st.error().message();
  // Two 4 KiB blocks hold ~30 of these frames; nobody reads, so most drop.
  EXPECT_GE(st->packets, static_cast<std::uint64_t>(kFrames)) << "tp_packets counts dropped ones too";
  EXPECT_GT(st->drops, static_cast<std::uint64_t>(kFrames / 2));
  EXPECT_LT(st->drops, static_cast<std::uint64_t>(kFrames));
  EXPECT_GT(st->freeze_q_cnt, 0u);
  auto again = sock.stats();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->drops, st->drops) << "a later read keeps the totals";
}

TEST(PacketCapture, IgnoreOutgoingHidesWhatThisHostSends) {
  Netns a("ia");
  netring::testing::disable_ipv6(a);
  Netns b("ib");
  VethPair v(a, b);
  // Both sockets on the sending end; frames go through the qdisc so local
  // packet taps see them as outgoing.
  const RingGeometry geo{.block_size = 1 << 16, .block_count = 4};
  auto sees = open_packet_socket(a, SocketOptions{.interface = v.name_a(), .ring = geo});
  auto blind = open_packet_socket(a, SocketOptions{.interface = v.name_a(), .ring = geo, .ignore_outgoing = true});
  RawSender tx = a.within([&] { return RawSender(v.name_a(), /*qdisc_bypass=*/false); });
  for (std::uint32_t i = 0; i < 20; ++i) ASSERT_TRUE(tx.send(numbered_frame(i)));
  auto got = drain(sees, 20, std::chrono::seconds(10));
  ASSERT_EQ(got.size(), 20u);
  EXPECT_EQ(got[0].meta.pkttype, PACKET_OUTGOING);
  EXPECT_TRUE(drain(blind, 1, std::chrono::seconds(1)).empty());
}

TEST(PacketCapture, PromiscuousMembershipLivesAsLongAsTheSocket) {
  Netns a("pma"), b("pmb");
  VethPair v(a, b);
  auto promisc = [&] { return b.run_ok("ip -d link show dev " + v.name_b()); };
  EXPECT_NE(promisc().find("promiscuity 0"), std::string::npos);
  {
    auto s = open_on(b, v.name_b(), RingGeometry{.block_size = 1 << 16, .block_count = 2});
    EXPECT_NE(promisc().find("promiscuity 1"), std::string::npos) << promisc();
  }
  EXPECT_NE(promisc().find("promiscuity 0"), std::string::npos) << "dropped with the socket";
}

TEST(PacketCapture, BadGeometryIsRejectedWithAReason) {
  auto s = PacketSocket::create(SocketOptions{.ring = RingGeometry{.block_size = 3 * 4096}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("power of two"), std::string::npos) << s.error().message();
  auto f = PacketSocket::create(SocketOptions{.ring = RingGeometry{.frame_size = 100}});
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message().find("frame size"), std::string::npos) << f.error().message();
}

TEST(PacketCapture, UnknownInterfaceIsNamed) {
  auto s = PacketSocket::create(SocketOptions{.interface = "nr-no-such0"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("nr-no-such0"), std::string::npos) << s.error().message();
  EXPECT_NE(s.error().message().find("no such interface"), std::string::npos) << s.error().message();
}

// A real EPERM: a forked child gives up CAP_NET_RAW and tries.
TEST(PacketCapture, MissingCapabilityIsNamed) {
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(pipefd[0]);
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (::syscall(SYS_capget, &hdr, data) != 0) ::_exit(2);
    static_assert(CAP_NET_RAW < 32, "CAP_NET_RAW lives in the first capability word");
    data[0].effective &= ~(1U << CAP_NET_RAW);
    data[0].permitted &= ~(1U << CAP_NET_RAW);
    if (::syscall(SYS_capset, &hdr, data) != 0) ::_exit(3);
    auto s = PacketSocket::create(SocketOptions{});
    const std::string msg = s.ok() ? std::string("ok") : s.error().message();
    (void)!::write(pipefd[1], msg.data(), msg.size());
    ::_exit(0);
  }
  ::close(pipefd[1]);
  std::string msg;
  char buf[512];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof(buf))) > 0) msg.append(buf, static_cast<std::size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  EXPECT_NE(msg.find("CAP_NET_RAW"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Operation not permitted"), std::string::npos) << msg;
}

}  // namespace
