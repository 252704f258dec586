// The capture ladder: each rung can be forced (the ladder still records why
// the higher ones were passed over), and on the mirror rungs samples arrive.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "pkg/datapath/datapath.hpp"
#include "tests/testing/datapath_in_netns.hpp"
#include "tests/testing/mirror_reader.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/stream_consumer.hpp"

namespace {

using netring::datapath::Datapath;
using netring::datapath::DatapathOptions;
using netring::datapath::Role;
using netring::datapath::Rung;
using netring::testing::Netns;
using netring::testing::VethOptions;
using netring::testing::VethPair;

std::unique_ptr<Datapath> make(const Netns& ns, Rung highest, std::uint32_t workers = 1) {
  DatapathOptions o;
  o.highest_rung = highest;
  o.workers = workers;
  return netring::testing::make_datapath(ns, o);
}

TEST(DatapathFallback, TheHighestRungServesWhenEverythingIsAvailable) {
  Netns host("fa");
  auto dp = make(host, Rung::kAfXdpMirror);
  ASSERT_TRUE(dp);
  ASSERT_TRUE(dp->features().bpf_loading) << dp->features().bpf_error;
  if (!dp->features().af_xdp) {
    EXPECT_EQ(dp->rung(), Rung::kAfPacketMirror);
  } else {
    EXPECT_EQ(dp->rung(), Rung::kAfXdpMirror);
  }
  ASSERT_FALSE(dp->ladder().empty());
  EXPECT_TRUE(dp->ladder().back().taken);
  EXPECT_EQ(dp->ladder().back().rung, dp->rung());
  netring::testing::destroy_datapath(host, dp);
}

// Opens the rung's streams and starts draining them.
std::unique_ptr<netring::testing::StreamConsumer> consume(const Netns& ns, Datapath& dp,
                                                          const netring::datapath::CaptureOptions& co = {}) {
  std::unique_ptr<netring::testing::StreamConsumer> out;
  std::string err;
  ns.within([&] {
    auto s = dp.open_sources(co);
    if (s)
      out = std::make_unique<netring::testing::StreamConsumer>(std::move(s).value());
    else
      err = s.error().message();
  });
  EXPECT_TRUE(out) << err;
  return out;
}

// One iperf3 run from `client` to a server on `addr`:`port` in `server_ns`,
// retried while the server is not listening yet.
::testing::AssertionResult iperf(const Netns& server_ns, const Netns& client, const std::string& addr, int port,
                                 const std::string& args) {
  const std::string p = std::to_string(port);
  auto server = server_ns.spawn("iperf3 -s -1 -B " + addr + " -p " + p + " >/dev/null 2>&1");
  std::string out;
  for (int attempt = 0; attempt < 50; ++attempt) {
    auto r = client.run("iperf3 -c " + addr + " -p " + p + " " + args);
    if (r.ok()) return ::testing::AssertionSuccess();
    out = r.output;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return ::testing::AssertionFailure() << out;
}

TEST(DatapathFallback, MirrorWithTpacketDeliversSamples) {
  Netns host("fh"), pod("fp");
  VethPair link(pod, host, VethOptions{.addr_a = "10.83.0.2/24", .addr_b = "10.83.0.1/24"});
  const int hooked = link.ifindex_b();
  // Two workers: a fanout group by CPU on the mirror, each CPU's samples in one ring.
  auto dp = make(host, Rung::kAfPacketMirror, 2);
  ASSERT_TRUE(dp);
  EXPECT_EQ(dp->rung(), Rung::kAfPacketMirror);
  ASSERT_EQ(dp->ladder().size(), 2u);
  EXPECT_FALSE(dp->ladder()[0].taken);
  EXPECT_EQ(dp->ladder()[0].reason, "skipped by configuration");
  EXPECT_TRUE(dp->ladder()[1].taken);
  auto consumer = consume(host, *dp);
  ASSERT_TRUE(consumer);
  ASSERT_TRUE(host.within([&] { return dp->hook(hooked, 1, Role::kPod); }));
  pod.run_ok("ping -q -c 50 -i 0.01 -W 2 10.83.0.1");
  consumer->drain();
  std::size_t requests = 0, replies = 0;
  for (const auto& s : consumer->samples()) {
    EXPECT_EQ(s.info.ifindex, static_cast<std::uint32_t>(hooked));
    const int type = netring::testing::icmp_type(s.frame);
    if (type == 8) ++requests;
    if (type == 0) ++replies;
  }
  EXPECT_EQ(requests, 50u);
  EXPECT_EQ(replies, 50u);
  auto t = consumer->totals();
  EXPECT_EQ(t.gaps, 0u);
  EXPECT_EQ(t.reordered, 0u);
  EXPECT_EQ(t.invalid, 0u);
  consumer.reset();
  netring::testing::destroy_datapath(host, dp);
}

// On the TPACKET mirror rung the socket filter truncates: GSO clones of a
// TCP stream arrive as header + snap_len bytes (tpacket_rcv copies only
// those), with the original's length and segment count, and nothing is
// lost or invalid.
TEST(DatapathFallback, MirrorWithTpacketTruncatesGsoClonesInTheSocket) {
  Netns host("fg"), pod("fk");
  VethPair link(pod, host, VethOptions{.addr_a = "10.85.0.2/24", .addr_b = "10.85.0.1/24"});
  auto dp = make(host, Rung::kAfPacketMirror);
  ASSERT_TRUE(dp);
  ASSERT_EQ(dp->rung(), Rung::kAfPacketMirror);
  EXPECT_FALSE(dp->programs()->reader_truncates()) << "no reader yet: the program trims";
  auto consumer = consume(host, *dp);
  ASSERT_TRUE(consumer);
  EXPECT_TRUE(dp->programs()->reader_truncates());
  ASSERT_TRUE(host.within([&] { return dp->hook(link.ifindex_b(), 1, Role::kPod); }));
  ASSERT_TRUE(iperf(host, pod, "10.85.0.1", 5303, "-t 1"));
  consumer->drain();
  const std::uint32_t snap = dp->programs()->options().snap_len;
  std::size_t gso = 0, truncated = 0;
  for (const auto& c : consumer->samples()) {
    if (c.info.truncated) {
      ++truncated;
      EXPECT_EQ(c.frame.size(), snap);
      EXPECT_GT(c.info.orig_len, snap);
    } else {
      EXPECT_EQ(c.frame.size(), c.info.orig_len);
    }
    if (c.info.gso_segs > 1) {
      ++gso;
      EXPECT_TRUE(c.info.truncated);
      EXPECT_GT(c.info.orig_len, 1514u) << "a GSO sample stands for more than one MTU-sized frame";
    }
  }
  EXPECT_GT(gso, 10u) << "veth passes TCP's GSO skbs: most data samples are GSO";
  // The program left the clones whole: the far end received far more than
  // header + snap_len per frame (a trimmed clone is at most 184 bytes).
  const auto stat = [&](const char* name) {
    return std::stoull(host.run_ok("cat /sys/class/net/" + dp->mirror()->far_name() + "/statistics/" + name));
  };
  const auto rx_packets = stat("rx_packets"), rx_bytes = stat("rx_bytes");
  ASSERT_GT(rx_packets, 0u);
  EXPECT_GT(rx_bytes / rx_packets, 2000u) << rx_bytes << " bytes in " << rx_packets << " frames";
  EXPECT_GT(truncated, gso);
  auto t = consumer->totals();
  EXPECT_EQ(t.gaps, 0u);
  EXPECT_EQ(t.invalid, 0u);
  auto c = dp->counters();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->stages.mirror_errors, 0u);
  consumer.reset();
  netring::testing::destroy_datapath(host, dp);
}

// On the AF_XDP rung GSO clones do not cross the pair (veth would copy each
// whole before the XDP program runs, and the trim in the mirror program
// would copy it first): the mirror program sends them whole into the far
// end's receive path, where a TPACKET_V3 fanout member per queue keeps the
// header and snap length. Single frames still reach the AF_XDP sockets.
// Every sample arrives, both kinds in gapless sequences of their own, and
// the two paths add up to what the mirror passed.
TEST(DatapathFallback, AfXdpRungHandsGsoClonesWholeToASocketOnTheFarEnd) {
  Netns host("fx"), pod("fy");
  VethPair link(pod, host, VethOptions{.addr_a = "10.86.0.2/24", .addr_b = "10.86.0.1/24"});
  auto dp = make(host, Rung::kAfXdpMirror, 2);
  ASSERT_TRUE(dp);
  if (dp->rung() != Rung::kAfXdpMirror) GTEST_SKIP() << "no AF_XDP here: " << dp->features().af_xdp_error;
  auto consumer = consume(host, *dp);
  ASSERT_TRUE(consumer);
  ASSERT_EQ(dp->rung(), Rung::kAfXdpMirror);
  EXPECT_EQ(dp->programs()->gso_apart(), static_cast<std::uint32_t>(dp->mirror()->far_ifindex()));
  EXPECT_NE(dp->ladder().back().reason.find("GSO clones whole to TPACKET_V3"), std::string::npos)
      << dp->ladder().back().reason;
  ASSERT_TRUE(host.within([&] { return dp->hook(link.ifindex_b(), 1, Role::kPod); }));
  ASSERT_TRUE(iperf(host, pod, "10.86.0.1", 5304, "-t 1 -P 2"));
  // Unhooked before the drain, so a straggler of the connections' teardown
  // cannot be counted after the consumer stops: the counters and the samples
  // below then describe the same packets.
  ASSERT_TRUE(host.within([&] { return dp->unhook(link.ifindex_b()); }));
  consumer->drain();
  const std::uint32_t snap = dp->programs()->options().snap_len;
  std::uint64_t gso = 0, single = 0;
  for (const auto& c : consumer->samples()) {
    if (c.info.gso_segs > 1) {
      ++gso;
      EXPECT_TRUE(c.info.truncated);
      EXPECT_EQ(c.frame.size(), snap);
      EXPECT_GT(c.info.orig_len, 1514u) << "a GSO sample stands for more than one MTU-sized frame";
    } else {
      ++single;
      EXPECT_EQ(c.frame.size(), std::min<std::uint32_t>(c.info.orig_len, snap));
    }
  }
  EXPECT_GT(gso, 10u) << "veth passes TCP's GSO skbs: most data samples are GSO";
  EXPECT_GT(single, 10u) << "the ACKs the host sends back are single frames";
  auto t = consumer->totals();
  EXPECT_EQ(t.gaps, 0u);
  EXPECT_EQ(t.reordered, 0u);
  EXPECT_EQ(t.invalid, 0u);
  auto c = dp->counters();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->stages.mirror_errors, 0u);
  EXPECT_EQ(c->stages.mirror_gso_apart, gso) << "every GSO clone the mirror sent apart arrived through the socket";
  EXPECT_EQ(c->xdp_redirects, single) << "single frames, and only they, crossed to the AF_XDP sockets";
  EXPECT_EQ(c->stages.mirror_passes, gso + single);
  consumer.reset();
  netring::testing::destroy_datapath(host, dp);
}

// A single full-size jumbo frame is not left whole for the socket: with the
// sample header it would exceed the mirror's MTU and veth would drop it.
TEST(DatapathFallback, MirrorWithTpacketSamplesJumboFrames) {
  Netns host("fj"), pod("fm");
  VethPair link(pod, host, VethOptions{.addr_a = "10.87.0.2/24", .addr_b = "10.87.0.1/24", .mtu = 9000});
  auto dp = make(host, Rung::kAfPacketMirror);
  ASSERT_TRUE(dp);
  auto consumer = consume(host, *dp);
  ASSERT_TRUE(consumer);
  ASSERT_TRUE(host.within([&] { return dp->hook(link.ifindex_b(), 1, Role::kPod); }));
  // 8972 bytes of ICMP payload: a 9000-byte IP packet, a 9014-byte frame.
  pod.run_ok("ping -q -c 20 -i 0.01 -W 2 -M do -s 8972 10.87.0.1");
  consumer->drain();
  std::size_t jumbo = 0;
  for (const auto& c : consumer->samples())
    if (c.info.orig_len == 9014u) {
      ++jumbo;
      EXPECT_TRUE(c.info.truncated);
      EXPECT_EQ(c.frame.size(), dp->programs()->options().snap_len);
    }
  EXPECT_EQ(jumbo, 40u) << "20 requests and 20 replies, each sampled at 1:1";
  auto t = consumer->totals();
  EXPECT_EQ(t.gaps, 0u);
  EXPECT_EQ(t.invalid, 0u);
  consumer.reset();
  netring::testing::destroy_datapath(host, dp);
}

TEST(DatapathFallback, NoBpfRungCapturesHookedInterfacesDirectly) {
  Netns host("fn"), pod("fq"), other("fo");
  VethPair link(pod, host, VethOptions{.addr_a = "10.84.0.2/24", .addr_b = "10.84.0.1/24"});
  VethPair unhooked(other, host, VethOptions{.addr_a = "10.84.1.2/24", .addr_b = "10.84.1.1/24"});
  const int hooked = link.ifindex_b();
  auto dp = make(host, Rung::kAfPacketDirect);
  ASSERT_TRUE(dp);
  EXPECT_EQ(dp->rung(), Rung::kAfPacketDirect);
  EXPECT_EQ(dp->mirror(), nullptr);
  EXPECT_EQ(dp->ladder().size(), 3u);
  ASSERT_TRUE(host.within([&] { return dp->hook(hooked, 1, Role::kPod); }));
  EXPECT_EQ(dp->hooked_rates().at(hooked), 1u);
  // No BPF anywhere: no TC filter, no tcx program, no mirror link.
  EXPECT_EQ(host.run("tc filter show dev " + link.name_b() + " ingress").output, "");
  if (netring::datapath::tcx_supported()) {
    std::size_t n = 999;
    host.within([&] {
      auto ids = netring::datapath::tcx_program_ids(hooked, netring::datapath::HookPoint::kIngress);
      if (ids) n = ids->size();
    });
    EXPECT_EQ(n, 0u);
  }
  EXPECT_FALSE(host.run("ip link show nr-mirror0").ok());

  netring::datapath::CaptureOptions co;
  co.direct_sample_rate = 1;
  auto consumer = consume(host, *dp, co);
  ASSERT_TRUE(consumer);
  pod.run_ok("ping -q -c 30 -i 0.01 -W 2 10.84.0.1");
  other.run_ok("ping -q -c 30 -i 0.01 -W 2 10.84.1.1");
  consumer->drain();
  std::size_t requests = 0;
  for (const auto& s : consumer->samples()) {
    EXPECT_EQ(s.info.ifindex, static_cast<std::uint32_t>(hooked)) << "an unhooked interface was captured";
    if (netring::testing::icmp_type(s.frame) == 8) {
      ++requests;
      EXPECT_EQ(s.info.direction, netring::datapath::SampleDirection::kIngress);
    }
  }
  // Received packets are kept once; what the node itself sends into a pod
  // veth is not (the documented limit of the classic filter).
  EXPECT_EQ(requests, 30u);
  auto c = dp->counters();
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->interfaces.empty()) << "no BPF counters on this rung";
  consumer.reset();
  netring::testing::destroy_datapath(host, dp);
}

}  // namespace
