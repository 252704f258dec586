// The XSKMAP redirect program on a real veth: miss action, counters,
// registration, and detach when the loader object dies.
#include <gtest/gtest.h>

#include <linux/bpf.h>
#include <net/if.h>

#include <chrono>
#include <thread>

#include "pkg/xdp/builder.hpp"
#include "pkg/xdp/redirect_program.hpp"
#include "tests/testing/bpf_prog_run.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/packet_builder.hpp"

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
    a.run_ok("ip neigh replace 10.0.9.2 lladdr " + mac_of(b, veth.name_b()) + " dev " + veth.name_a() +
             " nud permanent");
    b.run_ok("ip neigh replace 10.0.9.1 lladdr " + mac_of(a, veth.name_a()) + " dev " + veth.name_b() +
             " nud permanent");
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
    auto p =
        t.b.within([&] { return RedirectProgram::attach(t.veth.ifindex_b(), {.miss_action = MissAction::kDrop}); });
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

// The capture-port options, unit-tested with BPF_PROG_TEST_RUN on a
// program attached to a throw-away namespace's loopback (generic mode).
RedirectProgram capture_program(const Netns& n, std::uint32_t rate) {
  auto p = n.within([&] {
    return RedirectProgram::attach(
        ::if_nametoindex("lo"),
        {.miss_action = MissAction::kDrop, .force_generic = true, .count_frames = true, .sample_rate = rate});
  });
  EXPECT_TRUE(p) << p.error().message();
  return std::move(*p);
}

TEST(XdpRedirectProgram, CapturePortCountsEveryFrameAndItsBytes) {
  Netns n("rc");
  RedirectProgram p = capture_program(n, 1);
  const auto frame =
      netring::testing::PacketBuilder().eth().ipv4("10.1.0.1", "10.1.0.2").udp(1, 2).payload(100).build();
  constexpr int kRuns = 1000;
  auto r = netring::testing::prog_run(p.program_fd(), frame, nullptr, 0, nullptr, kRuns);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, static_cast<std::uint32_t>(XDP_DROP)) << "no socket on the queue: a copy is dropped";
  auto t = p.totals(1);
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->packets, static_cast<std::uint64_t>(kRuns));
  EXPECT_EQ(t->bytes, static_cast<std::uint64_t>(kRuns) * frame.size());
  EXPECT_EQ(t->missed, static_cast<std::uint64_t>(kRuns));
  EXPECT_EQ(t->skipped, 0u);
  EXPECT_EQ(t->redirected, 0u);
}

TEST(XdpRedirectProgram, CapturePortSamplesOneInNAndCountsTheRest) {
  Netns n("rs");
  constexpr std::uint32_t kRate = 4;
  RedirectProgram p = capture_program(n, kRate);
  EXPECT_EQ(p.sample_rate(), kRate);
  const auto frame = netring::testing::PacketBuilder().eth().ipv4("10.1.0.1", "10.1.0.2").udp(1, 2).payload(10).build();
  constexpr int kRuns = 40000;
  auto r = netring::testing::prog_run(p.program_fd(), frame, nullptr, 0, nullptr, kRuns);
  ASSERT_EQ(r.err, 0);
  auto t = p.totals(1);
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->packets, static_cast<std::uint64_t>(kRuns)) << "every frame counted, sampled or not";
  EXPECT_EQ(t->skipped + t->missed, static_cast<std::uint64_t>(kRuns));
  // Binomial(40000, 1/4): mean 10000, sd ~87; 9000..11000 is ~11 sd.
  EXPECT_GT(t->missed, 9000u);
  EXPECT_LT(t->missed, 11000u);
}

TEST(XdpRedirectProgram, MirrorUseCountsNothingButRedirectsAndMisses) {
  Netns n("rm");
  auto p = n.within([] { return RedirectProgram::attach(::if_nametoindex("lo"), {.force_generic = true}); });
  ASSERT_TRUE(p) << p.error().message();
  const auto frame = netring::testing::PacketBuilder().eth().ipv4("10.1.0.1", "10.1.0.2").udp(1, 2).build();
  auto r = netring::testing::prog_run(p->program_fd(), frame, nullptr, 0, nullptr, 10);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, static_cast<std::uint32_t>(XDP_PASS));
  auto t = p->totals(1);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->missed, 10u);
  EXPECT_EQ(t->packets, 0u);
  EXPECT_EQ(t->skipped, 0u);
}

TEST(XdpRedirectProgram, SampleRateWithoutFrameCountingIsRefused) {
  Netns n("rr");
  auto p = n.within([] { return RedirectProgram::attach(::if_nametoindex("lo"), {.sample_rate = 10}); });
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message().find("sample rate 10"), std::string::npos) << p.error().message();
}

}  // namespace
