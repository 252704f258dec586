// The mirror link: the agent's veth pair, made over rtnetlink.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "pkg/datapath/mirror_link.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/ok_within.hpp"

namespace {

using netring::datapath::MirrorLink;
using netring::datapath::MirrorLinkOptions;
using netring::testing::Netns;

std::optional<MirrorLink> create(const Netns& ns, const MirrorLinkOptions& o) {
  return netring::testing::ok_within(ns, [&] { return MirrorLink::create(o); });
}

TEST(MirrorLink, IsUpWithoutArpOrIpv6AndHasOneQueuePerWorker) {
  Netns ns("ml");
  MirrorLinkOptions o;
  o.queues = 2;
  auto m = create(ns, o);
  ASSERT_TRUE(m);
  for (const char* dev : {"nr-mirror0", "nr-mirror1"}) {
    auto d = ns.run_ok(std::string("ip -d link show ") + dev);
    EXPECT_NE(d.find("NOARP"), std::string::npos) << d;
    EXPECT_NE(d.find(",UP"), std::string::npos) << d;
    EXPECT_NE(d.find("numtxqueues 2 "), std::string::npos) << d;
    EXPECT_NE(d.find("numrxqueues 2 "), std::string::npos) << d;
    EXPECT_EQ(ns.run_ok(std::string("cat /proc/sys/net/ipv6/conf/") + dev + "/disable_ipv6"), "1\n");
    EXPECT_EQ(ns.run_ok(std::string("ip -6 addr show dev ") + dev), "");
  }
  EXPECT_EQ(m->near_ifindex(), std::stoi(ns.run_ok("cat /sys/class/net/nr-mirror0/ifindex")));
  // The kernel itself sends nothing on it (no ND, no ARP, no IGMP/MLD).
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(ns.run_ok("cat /sys/class/net/nr-mirror0/statistics/tx_packets"), "0\n");
  ns.within([&] { m.reset(); });
  EXPECT_FALSE(ns.run("ip link show nr-mirror0").ok());
  EXPECT_FALSE(ns.run("ip link show nr-mirror1").ok());
}

// The path a container with a read-only /proc/sys takes: IPv6 stays on but
// no address is ever made, so the link still sends nothing.
TEST(MirrorLink, WithoutTheSysctlNoIpv6AddressIsMade) {
  Netns ns("mn");
  MirrorLinkOptions o;
  o.ipv6_off_by_netlink = true;
  auto m = create(ns, o);
  ASSERT_TRUE(m);
  for (const char* dev : {"nr-mirror0", "nr-mirror1"}) {
    auto d = ns.run_ok(std::string("ip -d link show ") + dev);
    EXPECT_NE(d.find(",UP"), std::string::npos) << d;
    EXPECT_NE(d.find("addrgenmode none"), std::string::npos) << d;
    // The sysctl was not touched: only addr_gen_mode keeps IPv6 quiet here.
    EXPECT_EQ(ns.run_ok(std::string("cat /proc/sys/net/ipv6/conf/") + dev + "/disable_ipv6"), "0\n");
    EXPECT_EQ(ns.run_ok(std::string("ip -6 addr show dev ") + dev), "");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(ns.run_ok("cat /sys/class/net/nr-mirror0/statistics/tx_packets"), "0\n");
  EXPECT_EQ(ns.run_ok("cat /sys/class/net/nr-mirror1/statistics/tx_packets"), "0\n");
  EXPECT_EQ(ns.run_ok("ip -6 addr show dev nr-mirror0"), "");
}

TEST(MirrorLink, AStalePairIsReplaced) {
  Netns ns("ms");
  ns.run_ok("ip link add nr-mirror0 type veth peer name nr-mirror1");
  auto m = create(ns, {});
  ASSERT_TRUE(m);
  EXPECT_NE(ns.run_ok("ip -d link show nr-mirror0").find("NOARP"), std::string::npos);
  ns.within([&] { m.reset(); });
  EXPECT_FALSE(ns.run("ip link show nr-mirror0").ok());
}

TEST(MirrorLink, BadNamesAreRejected) {
  MirrorLinkOptions o;
  o.near_name = "this-name-is-far-too-long";
  auto m = MirrorLink::create(o);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message().find("15"), std::string::npos);
}

}  // namespace
