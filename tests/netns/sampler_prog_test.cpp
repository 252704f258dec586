// The sampler program run by the kernel on crafted packets (BPF_PROG_TEST_RUN).
// bpf_clone_redirect needs a real device: each test makes a veth pair in its
// own namespace and uses one end as the mirror.
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <cmath>
#include <optional>

#include "bpf/sample_meta.h"
#include "pkg/datapath/counters.hpp"
#include "pkg/datapath/heartbeat.hpp"
#include "pkg/datapath/programs.hpp"
#include "tests/testing/bpf_prog_run.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/packet_builder.hpp"

namespace {

using netring::datapath::Heartbeat;
using netring::datapath::ProgramOptions;
using netring::datapath::Programs;
using netring::datapath::StageCounters;
using netring::testing::Netns;
using netring::testing::PacketBuilder;
using netring::testing::ProgRun;
using netring::testing::VethPair;

constexpr std::uint32_t kUnspec = static_cast<std::uint32_t>(TC_ACT_UNSPEC);

class SamplerProg : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = Programs::load(ProgramOptions{});
    ASSERT_TRUE(p) << p.error().message();
    progs.emplace(std::move(p).value());
    mirror = static_cast<std::uint32_t>(veth.ifindex_a());
    hooked = static_cast<std::uint32_t>(veth.ifindex_b());
    ASSERT_TRUE(progs->set_mirror_ifindex(mirror));
    ASSERT_TRUE(Heartbeat(progs->heartbeat_map_fd()).beat());
  }

  void configure(std::uint32_t rate, netring_role role = NETRING_ROLE_POD) {
    ASSERT_TRUE(progs->set_interface(hooked, rate, role));
  }

  // Runs `fd` on `pkt` as if it passed `hooked`; ctx in and out.
  ProgRun run(int fd, const std::vector<std::uint8_t>& pkt, __sk_buff& ctx, int repeat = 1) {
    ctx.ifindex = hooked;
    return ns.within([&] { return netring::testing::prog_run(fd, pkt, &ctx, sizeof ctx, &ctx, repeat); });
  }

  StageCounters stages() {
    auto s = netring::datapath::read_stage_counters(progs->stats_map_fd(), progs->mirror_stats_map_fd());
    EXPECT_TRUE(s) << s.error().message();
    return s ? *s : StageCounters{};
  }

  netring::datapath::InterfaceCounters if_counters(std::uint32_t dir) {
    auto c = netring::datapath::read_interface_counters(progs->counters_map_fd(), hooked, dir);
    EXPECT_TRUE(c) << c.error().message();
    return c ? *c : netring::datapath::InterfaceCounters{};
  }

  Netns ns{"sprog"};
  VethPair veth{ns, ns};
  std::optional<Programs> progs;
  std::uint32_t mirror = 0, hooked = 0;
};

std::vector<std::uint8_t> udp(std::uint16_t dport, std::size_t payload = 100) {
  return PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(40000, dport).payload(payload).build();
}

TEST_F(SamplerProg, RateZeroCountsEveryPacketAndClonesNone) {
  configure(0);
  auto pkt = udp(53);
  __sk_buff ctx{};
  auto r = run(progs->sampler_ingress_fd(), pkt, ctx, 50);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, kUnspec);
  auto c = if_counters(NETRING_DIR_INGRESS);
  EXPECT_EQ(c.skbs, 50u);
  EXPECT_EQ(c.segs, 50u);
  EXPECT_EQ(c.bytes, 50u * pkt.size());
  EXPECT_EQ(if_counters(NETRING_DIR_EGRESS).skbs, 0u);
  EXPECT_EQ(stages().clone_attempts, 0u);
}

TEST_F(SamplerProg, RateOneClonesEveryPacketAndLeavesTheOriginalAlone) {
  configure(1);
  auto pkt = udp(53, 300);
  __sk_buff ctx{};
  ctx.mark = 0x1234;
  ctx.priority = 7;
  auto r = run(progs->sampler_ingress_fd(), pkt, ctx, 20);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, kUnspec);
  EXPECT_EQ(r.data, pkt) << "the original's bytes changed";
  EXPECT_EQ(ctx.mark, 0x1234u) << "mark not restored";
  EXPECT_EQ(ctx.priority, 7u) << "priority not restored";
  auto s = stages();
  EXPECT_EQ(s.clone_attempts, 20u);
  EXPECT_EQ(s.clone_failures, 0u);
  EXPECT_EQ(if_counters(NETRING_DIR_INGRESS).skbs, 20u);
}

TEST_F(SamplerProg, NoMirrorNoClone) {
  configure(1);
  ASSERT_TRUE(progs->set_mirror_ifindex(0));
  __sk_buff ctx{};
  auto r = run(progs->sampler_ingress_fd(), udp(53), ctx, 5);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, kUnspec);
  EXPECT_EQ(stages().clone_attempts, 0u);
  EXPECT_EQ(if_counters(NETRING_DIR_INGRESS).skbs, 5u);
}

TEST_F(SamplerProg, CloneFailureIsCountedAndPacketPasses) {
  configure(1);
  ASSERT_TRUE(progs->set_mirror_ifindex(999999));  // no such device
  __sk_buff ctx{};
  auto pkt = udp(53);
  auto r = run(progs->sampler_ingress_fd(), pkt, ctx, 3);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, kUnspec);
  EXPECT_EQ(r.data, pkt);
  auto s = stages();
  EXPECT_EQ(s.clone_attempts, 3u);
  EXPECT_EQ(s.clone_failures, 3u);
}

TEST_F(SamplerProg, EgressSamplesOnlyLocallyOriginatedPackets) {
  configure(1);
  __sk_buff ctx{};
  ctx.ingress_ifindex = 42;  // forwarded: sampled where it came in
  auto r = run(progs->sampler_egress_fd(), udp(53), ctx, 4);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, kUnspec);
  auto s = stages();
  EXPECT_EQ(s.clone_attempts, 0u);
  EXPECT_EQ(s.skip_forwarded, 4u);
  EXPECT_EQ(if_counters(NETRING_DIR_EGRESS).skbs, 4u) << "forwarded packets are still counted";

  __sk_buff local{};
  r = run(progs->sampler_egress_fd(), udp(53), local, 3);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(stages().clone_attempts, 3u);
  EXPECT_EQ(if_counters(NETRING_DIR_EGRESS).skbs, 7u);
}

TEST_F(SamplerProg, IngressSamplesForwardedPacketsToo) {
  configure(1);
  __sk_buff ctx{};
  ctx.ingress_ifindex = 42;
  auto r = run(progs->sampler_ingress_fd(), udp(53), ctx, 2);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(stages().clone_attempts, 2u);
}

TEST_F(SamplerProg, TunnelEncapsulationsLeavingANicAreSkipped) {
  configure(1, NETRING_ROLE_PHYSICAL);
  const std::vector<std::vector<std::uint8_t>> tunnels = {
      udp(4789),
      udp(8472),
      udp(6081),
      udp(51820),
      PacketBuilder().eth().ipv6("fd00::1", "fd00::2").udp(40000, 6081).payload(60).build(),
  };
  for (const auto& pkt : tunnels) {
    __sk_buff ctx{};
    auto r = run(progs->sampler_egress_fd(), pkt, ctx);
    ASSERT_EQ(r.err, 0);
    EXPECT_EQ(r.retval, kUnspec);
  }
  // IPIP: an IPv4 header with protocol 4 (payload stands for the inner packet).
  auto ipip = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").payload(40).build();
  ipip[14 + 9] = 4;
  __sk_buff ctx{};
  ASSERT_EQ(run(progs->sampler_egress_fd(), ipip, ctx).err, 0);

  auto s = stages();
  EXPECT_EQ(s.skip_tunnel, tunnels.size() + 1);
  EXPECT_EQ(s.clone_attempts, 0u);

  // Not a tunnel port: sampled.
  __sk_buff plain{};
  ASSERT_EQ(run(progs->sampler_egress_fd(), udp(53), plain).err, 0);
  EXPECT_EQ(stages().clone_attempts, 1u);
  // Tunnel rule is for NICs only: a pod sending VXLAN itself is sampled.
  configure(1, NETRING_ROLE_POD);
  __sk_buff pod{};
  ASSERT_EQ(run(progs->sampler_egress_fd(), udp(4789), pod).err, 0);
  EXPECT_EQ(stages().clone_attempts, 2u);
  // And on ingress the rule does not apply.
  configure(1, NETRING_ROLE_PHYSICAL);
  __sk_buff in{};
  ASSERT_EQ(run(progs->sampler_ingress_fd(), udp(4789), in).err, 0);
  EXPECT_EQ(stages().clone_attempts, 3u);
}

TEST_F(SamplerProg, GsoSkbsAreSampledWithProbabilitySegsOverRate) {
  constexpr std::uint32_t kRate = 100, kSegs = 10;
  constexpr int kRuns = 3000;
  configure(kRate);
  __sk_buff ctx{};
  ctx.gso_segs = kSegs;
  auto pkt = udp(53, 1000);
  auto r = run(progs->sampler_ingress_fd(), pkt, ctx, kRuns);
  ASSERT_EQ(r.err, 0);
  auto c = if_counters(NETRING_DIR_INGRESS);
  EXPECT_EQ(c.skbs, static_cast<std::uint64_t>(kRuns));
  EXPECT_EQ(c.segs, static_cast<std::uint64_t>(kRuns) * kSegs);
  // Binomial(3000, 0.1): mean 300, sd 16.4; ±6 sd. 1-in-N per skb would give ~30.
  const double p = static_cast<double>(kSegs) / kRate;
  const double sd = std::sqrt(kRuns * p * (1 - p));
  EXPECT_NEAR(static_cast<double>(stages().clone_attempts), kRuns * p, 6 * sd);

  // segs >= N: p = 1, weight 1.
  __sk_buff big{};
  big.gso_segs = 2 * kRate;
  const auto before = stages().clone_attempts;
  ASSERT_EQ(run(progs->sampler_ingress_fd(), pkt, big, 50).err, 0);
  EXPECT_EQ(stages().clone_attempts - before, 50u);
}

TEST_F(SamplerProg, HeartbeatGatesCloning) {
  configure(1);
  Heartbeat hb(progs->heartbeat_map_fd());
  ASSERT_TRUE(hb.stop());
  __sk_buff ctx{};
  ASSERT_EQ(run(progs->sampler_ingress_fd(), udp(53), ctx, 5).err, 0);
  auto s = stages();
  EXPECT_EQ(s.clone_attempts, 0u);
  EXPECT_EQ(s.heartbeat_stale, 5u);
  EXPECT_EQ(if_counters(NETRING_DIR_INGRESS).skbs, 5u) << "counting goes on without a heartbeat";

  // Older than the 5 s timeout: stale.
  ASSERT_TRUE(hb.write(Heartbeat::now_ns() - 60'000'000'000ULL));
  ASSERT_EQ(run(progs->sampler_ingress_fd(), udp(53), ctx, 5).err, 0);
  EXPECT_EQ(stages().clone_attempts, 0u);
  EXPECT_EQ(stages().heartbeat_stale, 10u);

  ASSERT_TRUE(hb.beat());
  ASSERT_EQ(run(progs->sampler_ingress_fd(), udp(53), ctx, 5).err, 0);
  EXPECT_EQ(stages().clone_attempts, 5u);
}

TEST_F(SamplerProg, UnconfiguredInterfaceIsCountedNotSampled) {
  __sk_buff ctx{};
  auto r = run(progs->sampler_ingress_fd(), udp(53), ctx, 2);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, kUnspec);
  EXPECT_EQ(stages().no_config, 2u);
  EXPECT_EQ(stages().clone_attempts, 0u);
  EXPECT_EQ(if_counters(NETRING_DIR_INGRESS).skbs, 2u);
}

}  // namespace
