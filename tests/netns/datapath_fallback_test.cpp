// The capture ladder: each rung can be forced (the ladder still records why
// the higher ones were passed over), and on the mirror rungs samples arrive.
#include <gtest/gtest.h>

#include <memory>
#include <string>

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
