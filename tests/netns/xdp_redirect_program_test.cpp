// The XSKMAP redirect program on a real veth: miss action, counters,
// registration, and detach when the loader object dies.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "pkg/xdp/builder.hpp"
#include "pkg/xdp/redirect_program.hpp"
#include "tests/testing/netns.hpp"

namespace {

using namespace netring::xdp;
using netring::testing::Netns;
using netring::testing::VethOptions;
using netring::testing::VethPair;

bool has_xdp(const Netns& ns, const std::string& dev) {
  return ns.run_ok("ip link show " + dev).find(" xdp") != std::string::npos;
}

std::string mac_of(const Netns& ns, const std::string& dev) {
  const std::string out = ns.run_ok("ip -o link show dev " + dev);
  const auto at = out.find("link/ether ");
  return at == std::string::npos ? "" : out.substr(at + 11, 17);
}

// Permanent neighbour entries: ARP dropped while a drop program is attached
// must not leave a failed entry that breaks the pings after it.
struct Topology {
  Topology() {
    a.run_ok("ip neigh replace 10.0.9.2 lladdr " + mac_of(b, veth.name_b()) + " dev " + veth.name_a() + " nud permanent");
    b.run_ok("ip neigh replace 10.0.9.1 lladdr " + mac_of(a, veth.name_a()) + " dev " + veth.name_b() + " nud permanent");
  }
  Netns a{"ra"}, b{"rb"};
  VethPair veth{a, b, VethOptions{.addr_a = "10.0.9.1/24", .addr_b = "10.0.9.2/24"}};
  bool ping() const { return a.run("ping -c 2 -i 0.2 -W 2 10.0.9.2").ok(); }
};

TEST(XdpRedirectProgram, MissPassesByDefaultAndIsCounted) {
  Topology t;
  auto p = t.b.within([&] { return RedirectProgram::attach(t.veth.ifindex_b()); });
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_TRUE(p->native()) << p->fallback_reason();
  EXPECT_TRUE(p->fallback_reason().empty());
  EXPECT_TRUE(has_xdp(t.b, t.veth.name_b()));
  EXPECT_TRUE(t.ping()) << "no socket on the queue: packets go on to the stack";
  auto c = p->counters(0);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_GE(c->missed, 2u);
  EXPECT_EQ(c->redirected, 0u);
}

TEST(XdpRedirectProgram, DropMissActionDropsAndDetachRestores) {
  Topology t;
  {
    auto p = t.b.within([&] { return RedirectProgram::attach(t.veth.ifindex_b(), {.miss_action = MissAction::kDrop}); });
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_FALSE(t.ping()) << "misses are dropped";
    auto c = p->counters(0);
    ASSERT_TRUE(c);
    EXPECT_GE(c->missed, 1u);
  }
  EXPECT_FALSE(has_xdp(t.b, t.veth.name_b())) << "detached with the object";
  EXPECT_TRUE(t.ping());
}

TEST(XdpRedirectProgram, RegisteredSocketGetsTheTrafficAndUnregisterGivesItBack) {
  Topology t;
  auto p = t.b.within([&] { return RedirectProgram::attach(t.veth.ifindex_b()); });
  ASSERT_TRUE(p) << p.error().message();
  auto s = t.b.within([&] { return XdpSocketBuilder().interface(t.veth.name_b()).rx_ring(64).build(); });
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_TRUE(p->register_socket(0, s->fd()));
  EXPECT_FALSE(t.ping()) << "the socket takes the echo requests away from the stack";
  std::uint64_t got = 0;
  for (int i = 0; i < 50 && got == 0; ++i) {
    auto b = s->receive();
    ASSERT_TRUE(b) << b.error().message();
    got += b->size();
    s->release();
    if (got == 0) (void)s->wait(100);
  }
  EXPECT_GT(got, 0u);
  auto c = p->counters(0);
  ASSERT_TRUE(c);
  EXPECT_GE(c->redirected, got);
  ASSERT_TRUE(p->unregister_socket(0));
  EXPECT_TRUE(t.ping());
}

TEST(XdpRedirectProgram, GenericModeWhenAsked) {
  Topology t;
  auto p = t.b.within([&] { return RedirectProgram::attach(t.veth.ifindex_b(), {.force_generic = true}); });
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_FALSE(p->native());
  EXPECT_FALSE(p->fallback_reason().empty());
  EXPECT_NE(t.b.run_ok("ip link show " + t.veth.name_b()).find("xdpgeneric"), std::string::npos);
  EXPECT_TRUE(t.ping());
}

}  // namespace
