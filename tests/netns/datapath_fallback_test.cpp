// The capture ladder: each rung can be forced (the ladder still records why
// the higher ones were passed over), and on the mirror rungs samples arrive.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "pkg/datapath/datapath.hpp"
#include "tests/testing/mirror_reader.hpp"
#include "tests/testing/netns.hpp"

namespace {

using netring::datapath::Datapath;
using netring::datapath::DatapathOptions;
using netring::datapath::Role;
using netring::datapath::Rung;
using netring::testing::Netns;
using netring::testing::VethOptions;
using netring::testing::VethPair;

std::unique_ptr<Datapath> make(const Netns& ns, Rung highest) {
  DatapathOptions o;
  o.highest_rung = highest;
  std::unique_ptr<Datapath> out;
  std::string err;
  ns.within([&] {
    auto d = Datapath::create(o);
    if (d)
      out = std::move(d).value();
    else
      err = d.error().message();
  });
  EXPECT_TRUE(out) << err;
  return out;
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
  host.within([&] { dp.reset(); });
}

TEST(DatapathFallback, MirrorWithAfPacketDeliversSamples) {
  Netns host("fh"), pod("fp");
  VethPair link(pod, host, VethOptions{.addr_a = "10.83.0.2/24", .addr_b = "10.83.0.1/24"});
  auto dp = make(host, Rung::kAfPacketMirror);
  ASSERT_TRUE(dp);
  EXPECT_EQ(dp->rung(), Rung::kAfPacketMirror);
  ASSERT_EQ(dp->ladder().size(), 2u);
  EXPECT_FALSE(dp->ladder()[0].taken);
  EXPECT_EQ(dp->ladder()[0].reason, "skipped by configuration");
  EXPECT_TRUE(dp->ladder()[1].taken);
  ASSERT_TRUE(host.within([&] { return dp->hook(link.ifindex_b(), 1, Role::kPod); }));
  auto rd = host.within(
      [&] { return std::make_unique<netring::testing::MirrorReader>(dp->mirror()->far_ifindex()); });
  pod.run_ok("ping -q -c 5 -i 0.05 -W 2 10.83.0.1");
  rd->drain();
  std::size_t icmp = 0;
  for (const auto& s : rd->samples())
    if (netring::testing::icmp_type(s.frame) >= 0) ++icmp;
  EXPECT_EQ(icmp, 10u);
  host.within([&] { dp.reset(); });
}

TEST(DatapathFallback, NoBpfRungHooksNothingAndMakesNoMirror) {
  Netns host("fn"), pod("fq");
  VethPair link(pod, host, VethOptions{.addr_a = "10.84.0.2/24", .addr_b = "10.84.0.1/24"});
  auto dp = make(host, Rung::kAfPacketDirect);
  ASSERT_TRUE(dp);
  EXPECT_EQ(dp->rung(), Rung::kAfPacketDirect);
  EXPECT_EQ(dp->mirror(), nullptr);
  EXPECT_EQ(dp->ladder().size(), 3u);
  ASSERT_TRUE(host.within([&] { return dp->hook(link.ifindex_b(), 10, Role::kPod); }));
  EXPECT_EQ(dp->hooked_rates().at(link.ifindex_b()), 10u);
  EXPECT_EQ(host.run("tc filter show dev " + link.name_b() + " ingress").output, "");
  if (netring::datapath::tcx_supported()) {
    std::size_t n = 999;
    host.within([&] {
      auto ids = netring::datapath::tcx_program_ids(link.ifindex_b(), netring::datapath::HookPoint::kIngress);
      if (ids) n = ids->size();
    });
    EXPECT_EQ(n, 0u);
  }
  EXPECT_FALSE(host.run("ip link show nr-mirror0").ok());
  auto c = dp->counters();
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->interfaces.empty());
  host.within([&] { dp.reset(); });
}

}  // namespace
