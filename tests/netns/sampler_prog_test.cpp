// The sampler program run by the kernel on crafted packets (BPF_PROG_TEST_RUN).
// bpf_clone_redirect needs a real device: each test makes a veth pair in its
// own namespace and uses one end as the mirror.
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <arpa/inet.h>
#include <sched.h>

#include <chrono>
#include <cmath>
#include <optional>
#include <string>
#include <thread>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bpf/flow_key.h"
#include "bpf/sample_meta.h"
#include "pkg/datapath/counters.hpp"
#include "pkg/datapath/heartbeat.hpp"
#include "pkg/datapath/programs.hpp"
#include "pkg/flow/parser.hpp"
#include "pkg/kflow/flow_count_reader.hpp"

#include <cstring>
#include <map>
#include <memory>

#include "tests/testing/bpf_prog_run.hpp"
#include "tests/testing/mirror_reader.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/packet_builder.hpp"
#include "tests/testing/parser_corpus.hpp"

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
  void SetUp() override { load(ProgramOptions{}); }

  // (Re)loads the programs with `o`: the interface must be configured again.
  void load(const ProgramOptions& o) {
    progs.reset();
    auto p = Programs::load(o);
    ASSERT_TRUE(p) << p.error().message();
    progs.emplace(std::move(p).value());
    mirror = static_cast<std::uint32_t>(veth.ifindex_a());
    hooked = static_cast<std::uint32_t>(veth.ifindex_b());
    ASSERT_TRUE(progs->set_mirror_ifindex(mirror));
    ASSERT_TRUE(Heartbeat(progs->heartbeat_map_fd()).beat());
  }
  void load_exact(netring::datapath::ExactFlows e, std::uint32_t map_entries = 65536) {
    ProgramOptions o;
    o.exact_flows = e;
    o.flow_map_entries = map_entries;
    load(o);
  }

  // Everything the kernel counted per flow since the last drain.
  std::vector<netring::kflow::KernelFlow> drain() {
    std::vector<netring::kflow::KernelFlow> out;
    if (!reader) reader.emplace(progs->flow_maps_fd(), progs->flow_map_fd(0), progs->flow_map_fd(1));
    auto n = reader->drain(out);
    EXPECT_TRUE(n) << n.error().message();
    return out;
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
    auto c = progs->interface_counters(hooked, dir);
    EXPECT_TRUE(c) << c.error().message();
    return c ? *c : netring::datapath::InterfaceCounters{};
  }

  Netns ns{"sprog"};
  VethPair veth{ns, ns};
  std::optional<Programs> progs;
  std::optional<netring::kflow::FlowCountReader> reader;
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
  const auto pkt = udp(53);
  auto r = run(progs->sampler_egress_fd(), pkt, ctx, 4);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, kUnspec);
  auto s = stages();
  EXPECT_EQ(s.clone_attempts, 0u);
  EXPECT_EQ(s.skip_forwarded, 4u);
  // A forwarded single frame leaves the program early: its interface's
  // counters are all it gets, and all of them.
  auto c = if_counters(NETRING_DIR_EGRESS);
  EXPECT_EQ(c.skbs, 4u) << "forwarded packets are still counted";
  EXPECT_EQ(c.segs, 4u);
  EXPECT_EQ(c.bytes, 4u * pkt.size());
  EXPECT_EQ(c.wire_bytes, 4u * pkt.size());
  EXPECT_EQ(c.gso_unparsed, 0u);

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

TEST_F(SamplerProg, UncountedGsoSkbsAreSampledWithProbabilitySegsOverRate) {
  constexpr std::uint32_t kRate = 100, kSegs = 10;
  constexpr int kRuns = 3000;
  load_exact(netring::datapath::ExactFlows::kOff);
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

// On the AF_XDP rung GSO clones reach user space through a socket of their
// own (the mirror program redirects them into the far end's receive path):
// the sampler then numbers them apart from single frames, at
// NETRING_MAX_QUEUES + queue, so that each socket sees gapless sequences.
// Read here from the sequence map itself: the kernel does not transmit a
// clone of a BPF_PROG_TEST_RUN GSO skb (it has a gso_size but no gso_type;
// bpf_clone_redirect returns -EBADMSG on 6.18), so the clones' own path is
// tested with real traffic (DatapathFallback.AfXdpRungHandsGsoClonesWhole...).
TEST_F(SamplerProg, GsoApartNumbersGsoClonesApartFromSingleFrames) {
  configure(1);
  const auto seq_sum = [&](std::uint32_t key) {
    // A per-CPU value comes to user space in an 8-byte slot per CPU,
    // whatever its size (the kernel rounds value_size up to 8).
    const int ncpu = libbpf_num_possible_cpus();
    std::vector<std::uint64_t> v(static_cast<std::size_t>(ncpu));
    EXPECT_EQ(bpf_map_lookup_elem(progs->seqs_map_fd(), &key, v.data()), 0);
    std::uint64_t sum = 0;
    for (auto x : v) {
      std::uint32_t seq;
      std::memcpy(&seq, &x, sizeof seq);
      sum += seq;
    }
    return sum;
  };
  const auto single = udp(8080, 300);
  const auto bulk = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").tcp(40001, 80).payload(400).build();
  const auto send = [&](int singles, int gsos) {
    for (int i = 0; i < singles; ++i) {
      __sk_buff ctx{};
      ASSERT_EQ(run(progs->sampler_ingress_fd(), single, ctx).err, 0);
    }
    for (int i = 0; i < gsos; ++i) {
      __sk_buff ctx{};
      ctx.gso_segs = 4;
      ctx.gso_size = 100;
      ASSERT_EQ(run(progs->sampler_ingress_fd(), bulk, ctx).err, 0);
    }
  };
  send(5, 7);
  EXPECT_EQ(seq_sum(0), 12u) << "apart only when asked: one sequence for both kinds";
  EXPECT_EQ(seq_sum(NETRING_MAX_QUEUES), 0u);
  ASSERT_TRUE(progs->set_gso_apart(hooked));
  send(5, 7);
  EXPECT_EQ(seq_sum(0), 17u) << "single frames";
  EXPECT_EQ(seq_sum(NETRING_MAX_QUEUES), 7u) << "GSO skbs";
  ASSERT_TRUE(progs->set_gso_apart(0));
  send(0, 3);
  EXPECT_EQ(seq_sum(0), 20u);
  EXPECT_EQ(seq_sum(NETRING_MAX_QUEUES), 7u);
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

  // Older than the 5 s timeout: stale. (Written at boot, not "60 s ago":
  // a guest booted for the kernel matrix may not be 60 s up, and the
  // difference would wrap into the future.)
  ASSERT_GT(Heartbeat::now_ns(), 6'000'000'000ULL);
  ASSERT_TRUE(hb.write(1));
  ASSERT_EQ(run(progs->sampler_ingress_fd(), udp(53), ctx, 5).err, 0);
  EXPECT_EQ(stages().clone_attempts, 0u);
  EXPECT_EQ(stages().heartbeat_stale, 10u);

  ASSERT_TRUE(hb.beat());
  ASSERT_EQ(run(progs->sampler_ingress_fd(), udp(53), ctx, 5).err, 0);
  EXPECT_EQ(stages().clone_attempts, 5u);
}

// A hook whose interface has no config entry (the moment between an
// unhook's detach and its config delete) only counts that it happened: the
// interface's counter slot may already belong to another interface.
TEST_F(SamplerProg, UnconfiguredInterfaceIsNeitherCountedNorSampled) {
  __sk_buff ctx{};
  auto r = run(progs->sampler_ingress_fd(), udp(53), ctx, 2);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, kUnspec);
  EXPECT_EQ(stages().no_config, 2u);
  EXPECT_EQ(stages().clone_attempts, 0u);
  EXPECT_EQ(if_counters(NETRING_DIR_INGRESS).skbs, 0u);
}

// Interfaces below NETRING_CONFIG_DIRECT are found by index in
// config_direct, the others in the config hash map: both count and sample,
// and an unhooked one is found in neither.
TEST_F(SamplerProg, ConfigIsFoundByIndexBelowTheDirectRangeAndByHashAbove) {
  const std::uint32_t big = NETRING_CONFIG_DIRECT + 4000;
  ns.run_ok("ip link add nrbig index " + std::to_string(big) + " type veth peer name nrbigp && ip link set nrbig up");
  ASSERT_LT(hooked, NETRING_CONFIG_DIRECT);
  ASSERT_TRUE(progs->set_interface(hooked, 1, NETRING_ROLE_POD));
  ASSERT_TRUE(progs->set_interface(big, 1, NETRING_ROLE_POD));
  auto run_on = [&](std::uint32_t ifindex, int n) {
    __sk_buff ctx{};
    ctx.ifindex = ifindex;
    auto pkt = udp(8080);
    auto r = ns.within(
        [&] { return netring::testing::prog_run(progs->sampler_ingress_fd(), pkt, &ctx, sizeof ctx, nullptr, n); });
    EXPECT_EQ(r.err, 0);
    EXPECT_EQ(r.retval, kUnspec);
  };
  run_on(hooked, 3);
  run_on(big, 5);
  EXPECT_EQ(stages().clone_attempts, 8u);
  EXPECT_EQ(stages().no_config, 0u);
  auto c = progs->interface_counters(big, NETRING_DIR_INGRESS);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->skbs, 5u);
  EXPECT_EQ(if_counters(NETRING_DIR_INGRESS).skbs, 3u);
  // A rate change on a hooked interface takes effect in place.
  ASSERT_TRUE(progs->set_interface(hooked, 0, NETRING_ROLE_POD));
  run_on(hooked, 4);
  EXPECT_EQ(stages().clone_attempts, 8u) << "rate 0: counted, not copied";
  EXPECT_EQ(if_counters(NETRING_DIR_INGRESS).skbs, 7u);
  ASSERT_TRUE(progs->remove_interface(hooked));
  ASSERT_TRUE(progs->remove_interface(big));
  run_on(hooked, 2);
  run_on(big, 2);
  EXPECT_EQ(stages().no_config, 4u);
  EXPECT_EQ(stages().clone_attempts, 8u);
}

}  // namespace

// ---- exact per-flow counting in the kernel ----

namespace exact {

using netring::datapath::ExactFlows;
using netring::flow::ParsedPacket;
using netring::flow::Parser;
using netring::flow::ParseStatus;

// A TCP segment as a GSO super-packet of `segs` segments would look at the
// hook: one header, the payload of all of them.
std::vector<std::uint8_t> tcp_gso(std::size_t payload, std::uint8_t flags = 0x18) {
  return PacketBuilder().eth().ipv4("10.1.0.1", "10.1.0.2").tcp(40000, 5201, flags).payload(payload).build();
}

ParsedPacket parse_user(const std::vector<std::uint8_t>& frame) {
  Parser p;
  ParsedPacket out;
  const auto st =
      p.parse({reinterpret_cast<const std::byte*>(frame.data()), static_cast<std::uint32_t>(frame.size())}, out);
  EXPECT_EQ(st, ParseStatus::kOk);
  return out;
}

}  // namespace exact

TEST_F(SamplerProg, BulkCountsGsoSkbsExactlyPerFlowAndCopiesThemOneInN) {
  using namespace exact;
  load_exact(ExactFlows::kBulk);
  constexpr std::uint32_t kRate = 100, kSegs = 10;
  constexpr int kRuns = 3000;
  configure(kRate);
  const auto pkt = tcp_gso(1000);
  __sk_buff ctx{};
  ctx.gso_segs = kSegs;
  ctx.gso_size = 100;
  auto r = run(progs->sampler_ingress_fd(), pkt, ctx, kRuns);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.data, pkt) << "the original's bytes changed";

  const ParsedPacket want = parse_user(pkt);
  auto flows = drain();
  ASSERT_EQ(flows.size(), 1u);
  const auto& f = flows[0];
  EXPECT_TRUE(f.key == want.key) << netring::flow::to_string(f.key) << " vs " << netring::flow::to_string(want.key);
  EXPECT_EQ(f.counts.packets, std::uint64_t{kRuns} * kSegs);
  EXPECT_EQ(f.counts.skbs, std::uint64_t{kRuns});
  EXPECT_EQ(f.counts.bytes, std::uint64_t{kRuns} * (pkt.size() - 14));
  // Each of the 10 segments repeats the 54 bytes of Ethernet, IPv4 and TCP headers.
  EXPECT_EQ(f.counts.wire_bytes, std::uint64_t{kRuns} * (pkt.size() + (kSegs - 1) * 54));
  EXPECT_EQ(f.tcp_flags(), 0x18u);
  EXPECT_EQ(f.counts.ifindex, hooked);
  EXPECT_EQ(f.counts.direction, static_cast<std::uint32_t>(NETRING_DIR_INGRESS));
  EXPECT_EQ(f.counts.max_seg, (pkt.size() - 14) / kSegs);
  EXPECT_GT(f.counts.last_ns, 0u);
  EXPECT_LE(f.counts.first_ns, f.counts.last_ns);

  auto s = stages();
  EXPECT_EQ(s.flow_counted, static_cast<std::uint64_t>(kRuns));
  EXPECT_EQ(s.flow_uncounted(), 0u);
  // Counted packets are copied for their headers only: 1 in N per skb
  // (Binomial(3000, 0.01): mean 30, sd 5.4), not segs/N (300).
  EXPECT_NEAR(static_cast<double>(s.clone_attempts), 30.0, 6 * 5.45);
  auto ic = if_counters(NETRING_DIR_INGRESS);
  EXPECT_EQ(ic.wire_bytes, f.counts.wire_bytes) << "interface wire bytes count the same headers";
  EXPECT_EQ(ic.gso_unparsed, 0u);

  // The drain emptied the map: the next period starts from nothing.
  EXPECT_TRUE(drain().empty());
}

TEST_F(SamplerProg, BulkLeavesSingleSegmentSkbsToTheEstimatorAllCountsThem) {
  using namespace exact;
  const auto pkt = tcp_gso(100, 0x10);
  for (ExactFlows mode : {ExactFlows::kBulk, ExactFlows::kAll, ExactFlows::kOff}) {
    SCOPED_TRACE(netring::datapath::to_string(mode));
    reader.reset();
    load_exact(mode);
    configure(0);
    __sk_buff ctx{};
    ASSERT_EQ(run(progs->sampler_ingress_fd(), pkt, ctx, 7).err, 0);
    auto flows = drain();
    if (mode == ExactFlows::kAll) {
      ASSERT_EQ(flows.size(), 1u);
      EXPECT_EQ(flows[0].counts.packets, 7u);
      EXPECT_EQ(flows[0].counts.bytes, 7u * (pkt.size() - 14));
      EXPECT_EQ(flows[0].counts.wire_bytes, 7u * pkt.size());
      EXPECT_EQ(stages().flow_counted, 7u);
    } else {
      EXPECT_TRUE(flows.empty());
      EXPECT_EQ(stages().flow_counted, 0u);
    }
  }
}

TEST_F(SamplerProg, EgressCountsOnlyWhatTheNodeOriginates) {
  using namespace exact;
  load_exact(ExactFlows::kAll);
  configure(0);
  const auto pkt = tcp_gso(100);
  __sk_buff fwd{};
  fwd.ingress_ifindex = 3;  // came in elsewhere: counted there
  fwd.gso_segs = 3;
  ASSERT_EQ(run(progs->sampler_egress_fd(), pkt, fwd, 4).err, 0);
  EXPECT_TRUE(drain().empty());
  __sk_buff local{};
  ASSERT_EQ(run(progs->sampler_egress_fd(), pkt, local, 4).err, 0);
  auto flows = drain();
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows[0].counts.packets, 4u);
  EXPECT_EQ(flows[0].counts.direction, static_cast<std::uint32_t>(NETRING_DIR_EGRESS));
  // The interface counts both, the forwarded GSO skbs' segments and wire
  // bytes too (they take the program's longer path: the wire bytes need the
  // parsed header length).
  auto c = if_counters(NETRING_DIR_EGRESS);
  EXPECT_EQ(c.skbs, 8u);
  EXPECT_EQ(c.segs, 4u * 3 + 4);
  EXPECT_EQ(c.wire_bytes, c.bytes + 4u * 2 * (14 + 20 + 20)) << "two more headers per forwarded skb";
  EXPECT_EQ(c.gso_unparsed, 0u);
}

TEST_F(SamplerProg, FullFlowMapLeavesPacketsToTheEstimatorAndSaysSo) {
  using namespace exact;
  load_exact(ExactFlows::kAll, /*map_entries=*/2);
  constexpr std::uint32_t kRate = 100, kSegs = 200;  // segs >= N: an uncounted skb is always copied
  configure(kRate);
  __sk_buff ctx{};
  ctx.gso_segs = kSegs;
  for (std::uint16_t port : {1, 2, 3}) {
    auto pkt = PacketBuilder().eth().ipv4("10.1.0.1", "10.1.0.2").udp(port, 9).payload(1000).build();
    ASSERT_EQ(run(progs->sampler_ingress_fd(), pkt, ctx, 10).err, 0);
  }
  auto s = stages();
  EXPECT_EQ(s.flow_counted, 20u);
  EXPECT_EQ(s.flow_map_full, 10u);
  // The third flow's skbs stand for themselves in the estimates: p =
  // min(1, segs / N) = 1, every one copied.
  EXPECT_GE(s.clone_attempts, 10u);
  EXPECT_EQ(drain().size(), 2u);
  // After the drain the map has room again.
  auto pkt = PacketBuilder().eth().ipv4("10.1.0.1", "10.1.0.2").udp(3, 9).payload(1000).build();
  ASSERT_EQ(run(progs->sampler_ingress_fd(), pkt, ctx, 1).err, 0);
  EXPECT_EQ(stages().flow_counted, 21u);
}

// The reader replaces a map that filled with a larger one of its own
// making (kflow::FlowCountReader): the sampler counts into it like into
// the maps it was loaded with.
TEST_F(SamplerProg, AFlowMapThatFilledIsReplacedByALargerOneTheSamplerCountsInto) {
  using namespace exact;
  load_exact(ExactFlows::kAll, /*map_entries=*/2);
  reader.emplace(progs->flow_maps_fd(), progs->flow_map_fd(0), progs->flow_map_fd(1),
                 netring::kflow::FlowMapSizing{2, 64, 30});
  configure(100);
  __sk_buff ctx{};
  auto send = [&](std::uint16_t ports) {
    for (std::uint16_t port = 1; port <= ports; ++port) {
      auto pkt = PacketBuilder().eth().ipv4("10.1.0.1", "10.1.0.2").udp(port, 9).payload(100).build();
      ASSERT_EQ(run(progs->sampler_ingress_fd(), pkt, ctx, 1).err, 0);
    }
  };
  send(3);
  EXPECT_EQ(stages().flow_map_full, 1u);
  EXPECT_EQ(drain().size(), 2u);  // filled: comes back with 8
  send(3);
  EXPECT_EQ(stages().flow_map_full, 2u);  // the other map, still 2
  EXPECT_EQ(drain().size(), 2u);
  EXPECT_EQ(reader->slot_capacity(), 8u);
  send(6);
  EXPECT_EQ(stages().flow_map_full, 2u);
  EXPECT_EQ(drain().size(), 6u);
}

TEST_F(SamplerProg, CopyOfACountedPacketRestoresEveryFieldItBorrowed) {
  using namespace exact;
  load_exact(ExactFlows::kAll);
  configure(1);
  __sk_buff ctx{};
  ctx.mark = 0x55;
  ctx.priority = 9;
  ctx.cb[0] = 0x11111111;
  ctx.cb[1] = 0x22222222;
  ctx.cb[2] = 0x33333333;
  ctx.cb[3] = 0x44;
  const auto pkt = tcp_gso(200);
  auto r = run(progs->sampler_ingress_fd(), pkt, ctx, 5);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.data, pkt);
  EXPECT_EQ(ctx.mark, 0x55u);
  EXPECT_EQ(ctx.priority, 9u);
  EXPECT_EQ(ctx.cb[0], 0x11111111u);
  EXPECT_EQ(ctx.cb[1], 0x22222222u);
  EXPECT_EQ(ctx.cb[2], 0x33333333u);
  EXPECT_EQ(ctx.cb[3], 0x44u);
  EXPECT_EQ(stages().clone_attempts, 5u);
  EXPECT_EQ(stages().clone_failures, 0u);
}

// The kernel's parser and flow::Parser over the whole parser corpus: every
// packet the kernel counts has the key and L3 length user space gives the
// same frame, and nothing user space rejects is counted. The kernel may
// decline (fragments, IPv6 extension headers): those stay estimated.
TEST_F(SamplerProg, KernelParserAgreesWithUserSpaceParserOnTheCorpus) {
  using namespace exact;
  namespace corpus = netring::testing::corpus;
  std::vector<corpus::Case> cases = corpus::ok_cases();
  for (auto& c : corpus::malformed_cases()) cases.push_back(std::move(c));
  for (bool fast : {true, false}) {
    SCOPED_TRACE(fast ? "fast path first" : "general path only");
    ProgramOptions o;
    o.exact_flows = ExactFlows::kAll;
    o.parse_fast_path = fast;
    reader.reset();
    load(o);
    configure(0);
    int counted = 0, declined = 0;
    for (const auto& c : cases) {
      SCOPED_TRACE(c.name);
      if (c.frame.size() < 14) continue;  // BPF_PROG_TEST_RUN takes no frame shorter than Ethernet
      const auto before = stages();
      __sk_buff ctx{};
      auto r = run(progs->sampler_ingress_fd(), c.frame, ctx);
      Parser up;
      ParsedPacket u;
      const ParseStatus st =
          up.parse({reinterpret_cast<const std::byte*>(c.frame.data()), static_cast<std::uint32_t>(c.frame.size())}, u);
      if (r.err == -EINVAL) {
        // BPF_PROG_TEST_RUN will not build an skb whose IP header is cut short.
        EXPECT_NE(std::string(to_string(st)).find("truncated"), std::string::npos) << to_string(st);
        continue;
      }
      ASSERT_EQ(r.err, 0);
      EXPECT_EQ(r.retval, kUnspec);
      const auto after = stages();
      auto flows = drain();
      if (!flows.empty()) {
        ++counted;
        ASSERT_EQ(flows.size(), 1u);
        ASSERT_EQ(st, ParseStatus::kOk) << "the kernel counted a frame user space rejects: " << to_string(st);
        EXPECT_TRUE(flows[0].key == u.key)
            << netring::flow::to_string(flows[0].key) << " vs " << netring::flow::to_string(u.key);
        const std::uint32_t user_ip_len =
            u.ip_len != 0 ? u.ip_len : static_cast<std::uint32_t>(c.frame.size()) - u.l3_offset;
        EXPECT_EQ(flows[0].counts.bytes, user_ip_len);
        EXPECT_EQ(flows[0].tcp_flags(), u.tcp_flags);
      } else if (st == ParseStatus::kOk) {
        EXPECT_EQ(after.flow_declined - before.flow_declined, 1u)
            << "user space parses it, the kernel neither counted nor declined it";
        EXPECT_TRUE(u.fragment || c.frame.size() > 54) << "only fragments and extension headers are declined";
        ++declined;
      }
    }
    EXPECT_GT(counted, 20);
    EXPECT_GT(declined, 0);
    std::printf("%s: kernel counted %d corpus frames, declined %d\n", fast ? "fast+general" : "general", counted,
                declined);
  }
}

// Interface counters live in array slots (a full hash map used to lose
// them): a slot an unhooked interface leaves is zeroed before the next
// interface gets it, and running out of slots is an error, not a silent loss.
TEST_F(SamplerProg, InterfaceSlotsAreZeroedForTheNextInterfaceAndBounded) {
  configure(0);
  __sk_buff ctx{};
  ASSERT_EQ(run(progs->sampler_ingress_fd(), udp(53), ctx, 3).err, 0);
  EXPECT_EQ(if_counters(NETRING_DIR_INGRESS).skbs, 3u);
  ASSERT_TRUE(progs->remove_interface(hooked));
  EXPECT_EQ(if_counters(NETRING_DIR_INGRESS).skbs, 0u) << "an unconfigured interface reads as zero";
  // A program run after the config delete (an unhook racing a packet) adds nothing.
  ASSERT_EQ(run(progs->sampler_ingress_fd(), udp(53), ctx, 2).err, 0);
  configure(0);  // gets the same slot back
  EXPECT_EQ(if_counters(NETRING_DIR_INGRESS).skbs, 0u) << "left over from the previous owner";
  ASSERT_EQ(run(progs->sampler_ingress_fd(), udp(53), ctx, 1).err, 0);
  EXPECT_EQ(if_counters(NETRING_DIR_INGRESS).skbs, 1u);

  std::uint32_t fake = 100000;
  for (int used = 1; used < NETRING_MAX_INTERFACES; ++used)  // `hooked` has one
    ASSERT_TRUE(progs->set_interface(fake++, 0, NETRING_ROLE_POD));
  auto last = progs->set_interface(fake++, 0, NETRING_ROLE_POD);
  ASSERT_FALSE(last);
  EXPECT_NE(last.error().message().find("counter slots are in use"), std::string::npos) << last.error().message();
  // Freeing one makes room again.
  ASSERT_TRUE(progs->remove_interface(100000));
  EXPECT_TRUE(progs->set_interface(fake, 0, NETRING_ROLE_POD));
}

// The copy budget (sample_meta.h, struct netring_copy_scale): a CPU that
// draws more copies a second than the budget scales its 1:N up at the end
// of its window, each copy carries the rate it was drawn at (so the
// Horvitz-Thompson sum of their weights still stands for every packet), a
// rate of 1 is never scaled, and the scale falls back once the copies ebb.
// The budget is per CPU: every run here is pinned to one CPU.
class SamplerBudget : public SamplerProg {
 protected:
  static constexpr std::uint32_t kBudget = 1000, kRate = 2;

  void SetUp() override {
    ProgramOptions o;
    o.copy_budget = kBudget;
    load(o);
    configure(kRate);
    cpu_ = sched_getcpu();
  }
  // `n` runs of `pkt` on the ingress hook, on cpu_.
  void runs(const std::vector<std::uint8_t>& pkt, int n) {
    __sk_buff ctx{};
    ctx.ifindex = hooked;
    const auto r = ns.within([&] {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu_, &one);
      EXPECT_EQ(sched_setaffinity(0, sizeof one, &one), 0) << std::strerror(errno);
      return netring::testing::prog_run(progs->sampler_ingress_fd(), pkt, &ctx, sizeof ctx, &ctx, n);
    });
    ASSERT_EQ(r.err, 0);
    ASSERT_EQ(r.retval, kUnspec);
  }
  // Single runs until one copy is drawn: the draw that ends a window.
  void until_a_copy(const std::vector<std::uint8_t>& pkt) {
    const std::uint64_t before = stages().clone_attempts;
    for (int i = 0; i < 1'000'000 && stages().clone_attempts == before; ++i) runs(pkt, 1);
    ASSERT_GT(stages().clone_attempts, before);
  }
  netring::datapath::CopyScale scale() {
    auto c = netring::datapath::read_copy_scale(progs->copy_scale_map_fd());
    EXPECT_TRUE(c) << c.error().message();
    return c ? *c : netring::datapath::CopyScale{};
  }
  int cpu_ = 0;
};

TEST_F(SamplerBudget, ABusyCpuScalesItsRateAndEachCopyCarriesTheRateItWasDrawnAt) {
  const auto pkt = udp(8080, 60);
  // A burst at 1:2, about 2000 copies within the first window (a few ms).
  runs(pkt, 4000);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  until_a_copy(pkt);
  // About 2000 copies in 150 ms, 13,000 a second against a budget of 1000:
  // the scale aims the next window at 750 a second (about 18; less if this
  // thread was held up, but above 1 as long as the window saw more than 1000
  // a second, i.e. was shorter than 2 s).
  const auto raised = scale();
  ASSERT_GE(raised.max_scale, 2u);
  EXPECT_EQ(raised.cpus_scaled, 1u);
  EXPECT_GE(raised.raises, 1u);

  // Every copy from here on is drawn at a scaled rate (another window may
  // end meanwhile and scale it again): the mirror's far end reads them.
  const int mirror_if = static_cast<int>(mirror);
  ASSERT_EQ(ns.within([&] {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = mirror_if, .attach_point = BPF_TC_EGRESS);
    bpf_tc_hook_create(&hook);
    LIBBPF_OPTS(bpf_tc_opts, o, .prog_fd = progs->mirror_fd(), .handle = 1, .priority = 1);
    return bpf_tc_attach(&hook, &o);
  }),
            0);
  std::unique_ptr<netring::testing::MirrorReader> reader;
  ns.within([&] { reader = std::make_unique<netring::testing::MirrorReader>(static_cast<int>(hooked)); });
  ASSERT_TRUE(reader->ok());
  const StageCounters before = stages();
  constexpr int kRuns = 20000;
  for (int i = 0; i < kRuns / 500; ++i) runs(pkt, 500);
  const StageCounters after = stages();
  const std::uint64_t copies = after.clone_attempts - before.clone_attempts;
  EXPECT_EQ(after.scaled_copies - before.scaled_copies, copies) << "every copy was drawn at a scaled rate";
  EXPECT_LT(copies, static_cast<std::uint64_t>(kRuns / kRate * 3 / 4)) << "1:2 would have copied about 10,000";
  reader->drain();
  ASSERT_EQ(reader->socket_drops(), 0u) << "the reader lost copies: the sums below would not hold";
  const auto samples = reader->samples();
  ASSERT_EQ(samples.size(), copies);
  double weights = 0, variance = 0;
  for (const auto& s : samples) {
    EXPECT_FALSE(s.info.forced);
    EXPECT_EQ(s.info.rate % kRate, 0u) << "N times a scale";
    EXPECT_GT(s.info.rate, kRate) << "a scaled rate";
    const double w = s.info.weight();
    weights += w;
    variance += w * w - w;
  }
  // Horvitz-Thompson: the weights stand for every run, within 6 sd.
  EXPECT_NEAR(weights, kRuns, 6 * std::sqrt(variance)) << "sd " << std::sqrt(variance);

  // 1:1 asks for every packet: never scaled, while the CPU still is.
  ASSERT_TRUE(progs->set_interface(hooked, 1, NETRING_ROLE_POD));
  const std::uint64_t at_one = stages().clone_attempts;
  runs(pkt, 500);
  EXPECT_EQ(stages().clone_attempts - at_one, 500u);
  EXPECT_GT(scale().max_scale, 1u);

  // The copies ebb: the window of the copies above ends (copies at 1:1 are
  // not counted against the budget), then one with a copy or two in 500 ms
  // sets the scale back to 1.
  ASSERT_TRUE(progs->set_interface(hooked, kRate, NETRING_ROLE_POD));
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  until_a_copy(pkt);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  until_a_copy(pkt);
  EXPECT_EQ(scale().max_scale, 1u);
  EXPECT_EQ(scale().cpus_scaled, 0u);
  const std::uint64_t unscaled = stages().clone_attempts;
  runs(pkt, 400);
  const double n = static_cast<double>(stages().clone_attempts - unscaled);
  EXPECT_NEAR(n, 200.0, 6 * std::sqrt(100.0)) << "back at 1:2";
}

// Without a budget (the default in ProgramOptions) nothing is scaled
// whatever the load.
TEST_F(SamplerProg, WithoutABudgetTheRateIsFixed) {
  configure(2);
  const auto pkt = udp(8080, 60);
  __sk_buff ctx{};
  ASSERT_EQ(run(progs->sampler_ingress_fd(), pkt, ctx, 4000).err, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  const std::uint64_t before = stages().clone_attempts;
  ASSERT_EQ(run(progs->sampler_ingress_fd(), pkt, ctx, 4000).err, 0);
  const double n = static_cast<double>(stages().clone_attempts - before);
  EXPECT_NEAR(n, 2000.0, 6 * std::sqrt(1000.0));
  auto c = netring::datapath::read_copy_scale(progs->copy_scale_map_fd());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->max_scale, 1u);
  EXPECT_EQ(stages().scaled_copies, 0u);
}

// DNS and TCP control packets are copied whatever the rate, with p = 1: the
// copy's header says rate 1 (weight 1, so the estimator stays unbiased) and
// carries the forced flag. A plain data packet at 1 in 1000000 is not.
namespace forced {

constexpr std::uint32_t kRate = 1'000'000;

std::vector<std::uint8_t> tcp(const char* src, const char* dst, std::uint16_t sport, std::uint16_t dport,
                              std::uint8_t flags, std::size_t payload = 0) {
  return PacketBuilder().eth().ipv4(src, dst).tcp(sport, dport, flags).payload(payload).build();
}

}  // namespace forced

class SamplerForced : public SamplerProg {
 protected:
  void load_forced(bool dns, bool tcp) {
    ProgramOptions o;
    o.copy_dns = dns;
    o.copy_tcp_control = tcp;
    o.dns_ports = {53, 5353};
    load(o);
    configure(forced::kRate);
  }
  // Clone attempts made by `n` runs of `pkt` on the ingress hook.
  std::uint64_t copies(const std::vector<std::uint8_t>& pkt, int n = 1) {
    const std::uint64_t before = stages().clone_attempts;
    __sk_buff ctx{};
    auto r = run(progs->sampler_ingress_fd(), pkt, ctx, n);
    EXPECT_EQ(r.err, 0);
    EXPECT_EQ(r.retval, kUnspec);
    EXPECT_EQ(r.data, pkt) << "the original's bytes changed";
    return stages().clone_attempts - before;
  }
};

TEST_F(SamplerForced, DnsAndTcpControlPacketsAreCopiedAtAnyRateAndDataPacketsAreNot) {
  using forced::tcp;
  load_forced(true, true);
  // DNS: query and response, UDP and TCP, the standard port and a configured one.
  EXPECT_EQ(copies(udp(53, 40), 10), 10u);
  EXPECT_EQ(copies(PacketBuilder().eth().ipv4("10.0.0.2", "10.0.0.1").udp(53, 40000).payload(60).build(), 10), 10u);
  EXPECT_EQ(copies(tcp("10.0.0.1", "10.0.0.2", 40001, 53, 0x18, 40), 10), 10u);
  EXPECT_EQ(copies(udp(5353, 40), 10), 10u);
  // TCP control: SYN, FIN, RST.
  EXPECT_EQ(copies(tcp("10.0.0.1", "10.0.0.2", 40002, 80, 0x02), 10), 10u);
  EXPECT_EQ(copies(tcp("10.0.0.1", "10.0.0.2", 40002, 80, 0x11), 10), 10u);
  EXPECT_EQ(copies(tcp("10.0.0.1", "10.0.0.2", 40002, 80, 0x04), 10), 10u);
  // The handshake: the SYN-ACK is copied, and so is the client's first
  // pure ACK after it, once; later ACKs of that connection are data.
  const auto ack = tcp("10.0.0.1", "10.0.0.2", 40003, 80, 0x10);
  EXPECT_EQ(copies(ack, 100), 0u) << "a pure ACK without a SYN-ACK before it";
  EXPECT_EQ(copies(tcp("10.0.0.2", "10.0.0.1", 80, 40003, 0x12)), 1u);
  EXPECT_EQ(copies(tcp("10.0.0.9", "10.0.0.1", 80, 40003, 0x10), 10), 0u) << "another connection's ACK";
  EXPECT_EQ(copies(ack), 1u) << "the handshake's third packet";
  EXPECT_EQ(copies(ack, 100), 0u) << "the connection's later ACKs";
  // Through a Service address: the SYN-ACK comes from the pod behind it (as
  // the node sees it before the reverse translation), the client's ACK goes
  // to the Service address (before the DNAT).
  EXPECT_EQ(copies(tcp("10.0.0.7", "10.0.0.1", 8080, 40004, 0x12)), 1u);
  EXPECT_EQ(copies(tcp("10.0.0.1", "10.96.0.1", 40004, 80, 0x10)), 1u) << "the ACK to the Service address";
  // Plain data: UDP to another port, TCP data with PSH.
  EXPECT_EQ(copies(udp(8080, 100), 200), 0u);
  EXPECT_EQ(copies(tcp("10.0.0.1", "10.0.0.2", 40003, 80, 0x18, 500), 200), 0u);
  EXPECT_EQ(stages().forced_copies, 74u);
}

// The handshakes map is looked up only for a pure ACK whose client end's
// slot may hold an open handshake (sample_meta.h, handshake_slots): a
// SYN-ACK opens one in its client end's slot, the ACK that takes its entry
// closes it, and a slot at zero, or one that saw no SYN-ACK within the
// window, sends its pure ACKs past the map. On both parse paths (the peek
// finds the slot from the packet, the full parse from the key).
namespace forced {

std::uint32_t v4(const char* addr) {
  in_addr a{};
  EXPECT_EQ(inet_pton(AF_INET, addr, &a), 1) << addr;
  return a.s_addr;
}

// netring_client_end's key of an IPv4 client end.
netring_flow_key client_end(const char* addr, std::uint16_t port) {
  netring_flow_key k{};
  k.src[10] = 0xff;
  k.src[11] = 0xff;
  const std::uint32_t a = v4(addr);
  std::memcpy(&k.src[12], &a, 4);
  k.src_port = port;
  k.protocol = IPPROTO_TCP;
  k.family = 4;
  return k;
}

}  // namespace forced

class SamplerHandshakeSlots : public SamplerForced {
 protected:
  netring_handshake_slot slot(std::uint32_t index) {
    netring_handshake_slot s{};
    EXPECT_EQ(bpf_map_lookup_elem(progs->handshake_slots_map_fd(), &index, &s), 0);
    return s;
  }
  static std::uint32_t index(const char* addr, std::uint16_t port) {
    return netring_handshake_slot_of(forced::v4(addr), port);
  }
  std::uint32_t pending(const char* addr, std::uint16_t port) { return slot(index(addr, port)).pending; }
};

TEST_F(SamplerHandshakeSlots, PureAcksReachTheHandshakesMapOnlyWhileTheirSlotMayHoldAnOpenHandshake) {
  using forced::tcp;
  for (bool fast : {true, false}) {
    SCOPED_TRACE(fast ? "peek and fast path" : "general path");
    ProgramOptions o;
    o.copy_tcp_control = true;
    o.parse_fast_path = fast;
    load(o);
    configure(forced::kRate);

    EXPECT_EQ(copies(tcp("10.0.0.2", "10.0.0.1", 80, 40010, 0x12)), 1u);
    EXPECT_EQ(pending("10.0.0.1", 40010), 1u) << "the SYN-ACK opened a handshake in its client end's slot";
    const auto ack = tcp("10.0.0.1", "10.0.0.2", 40010, 80, 0x10);
    EXPECT_EQ(copies(ack), 1u);
    EXPECT_EQ(pending("10.0.0.1", 40010), 0u) << "its ACK closed it";
    EXPECT_EQ(copies(ack, 100), 0u);

    // An entry in the handshakes map behind a slot at zero is not looked
    // for: the ACK is not copied, and the entry is still there.
    ASSERT_NE(index("10.0.0.1", 40020), index("10.0.0.1", 40010));
    const netring_flow_key planted = forced::client_end("10.0.0.1", 40020);
    std::uint64_t when = 1;
    ASSERT_EQ(bpf_map_update_elem(progs->handshakes_map_fd(), &planted, &when, BPF_ANY), 0);
    EXPECT_EQ(copies(tcp("10.0.0.1", "10.0.0.2", 40020, 80, 0x10), 10), 0u);
    EXPECT_EQ(bpf_map_lookup_elem(progs->handshakes_map_fd(), &planted, &when), 0);

    // Two client ends in one slot: both handshakes' ACKs are copied.
    const std::uint32_t shared = index("10.0.0.1", 40030);
    std::string other;
    std::uint16_t other_port = 0;
    for (int host = 3; host < 60 && other_port == 0; ++host)
      for (std::uint32_t port = 1024; port < 65536; ++port)
        if (index(("10.0.0." + std::to_string(host)).c_str(), static_cast<std::uint16_t>(port)) == shared) {
          other = "10.0.0." + std::to_string(host);
          other_port = static_cast<std::uint16_t>(port);
          break;
        }
    ASSERT_NE(other_port, 0);
    EXPECT_EQ(copies(tcp("10.0.0.2", "10.0.0.1", 80, 40030, 0x12)), 1u);
    EXPECT_EQ(copies(tcp("10.0.0.2", other.c_str(), 80, other_port, 0x12)), 1u);
    EXPECT_EQ(slot(shared).pending, 2u);
    EXPECT_EQ(copies(tcp("10.0.0.1", "10.0.0.2", 40030, 80, 0x10)), 1u);
    EXPECT_EQ(slot(shared).pending, 1u);
    EXPECT_EQ(copies(tcp(other.c_str(), "10.0.0.2", other_port, 80, 0x10)), 1u) << other << ":" << other_port;
    EXPECT_EQ(slot(shared).pending, 0u);

    // A slot whose latest SYN-ACK is older than the window: its pure ACK is
    // no handshake's, though the entry is there.
    EXPECT_EQ(copies(tcp("10.0.0.2", "10.0.0.1", 80, 40040, 0x12)), 1u);
    const std::uint32_t old_index = index("10.0.0.1", 40040);
    netring_handshake_slot old = slot(old_index);
    ASSERT_EQ(old.pending, 1u);
    old.last_ns -= NETRING_HANDSHAKE_WINDOW_NS + 1'000'000'000ULL;
    ASSERT_EQ(bpf_map_update_elem(progs->handshake_slots_map_fd(), &old_index, &old, BPF_ANY), 0);
    EXPECT_EQ(copies(tcp("10.0.0.1", "10.0.0.2", 40040, 80, 0x10)), 0u);
    // The next SYN-ACK in that slot starts it over at one.
    EXPECT_EQ(copies(tcp("10.0.0.2", "10.0.0.1", 80, 40040, 0x12)), 1u);
    EXPECT_EQ(slot(old_index).pending, 1u);
    EXPECT_EQ(copies(tcp("10.0.0.1", "10.0.0.2", 40040, 80, 0x10)), 1u);

    // IPv6: the peek's fold of the source and the key's fold of the SYN-ACK's
    // destination find the same slot.
    EXPECT_EQ(copies(PacketBuilder().eth().ipv6("fd00::2", "fd00::1").tcp(80, 40050, 0x12).build()), 1u);
    const auto ack6 = PacketBuilder().eth().ipv6("fd00::1", "fd00::2").tcp(40050, 80, 0x10).build();
    EXPECT_EQ(copies(ack6), 1u);
    EXPECT_EQ(copies(ack6, 10), 0u);
  }
}

// The first NETRING_DNS_PORTS_INLINE ports are compared in place; with more,
// the program looks the rest up in the dns_ports map.
TEST_F(SamplerForced, DnsPortsPastThoseComparedInPlaceAreLookedUp) {
  ProgramOptions o;
  o.copy_dns = true;
  o.dns_ports = {53, 5353, 1053, 2053, 3053, 4053};
  static_assert(NETRING_DNS_PORTS_INLINE == 4);
  load(o);
  configure(forced::kRate);
  for (std::uint16_t port : o.dns_ports) EXPECT_EQ(copies(udp(port, 40), 3), 3u) << "port " << port;
  EXPECT_EQ(copies(udp(5053, 40), 100), 0u);
  o.dns_ports = {53};
  load(o);
  configure(forced::kRate);
  EXPECT_EQ(copies(udp(53, 40), 3), 3u);
  EXPECT_EQ(copies(udp(5353, 40), 100), 0u) << "no longer a DNS port";
}

// The sampler tells most packets it does not always copy from a peek at
// their transport, without building a key; the general path alone (no
// peek) must copy exactly the same frames of the parser corpus, DNS and
// TCP control packets among them, tagged, tunnelled, malformed or not.
TEST_F(SamplerForced, ThePeekCopiesWhatTheFullParseCopiesOnTheCorpus) {
  namespace corpus = netring::testing::corpus;
  std::vector<corpus::Case> cases = corpus::ok_cases();
  for (auto& c : corpus::malformed_cases()) cases.push_back(std::move(c));
  const netring::flow::ParseStatus ok = netring::flow::ParseStatus::kOk;
  cases.push_back({"udp dns", udp(53, 40), ok});
  cases.push_back(
      {"udp dns response", PacketBuilder().eth().ipv4("10.0.0.2", "10.0.0.1").udp(53, 40000).payload(60).build(), ok});
  cases.push_back({"tcp syn", forced::tcp("10.0.0.1", "10.0.0.2", 40002, 80, 0x02), ok});
  cases.push_back({"tcp rst", forced::tcp("10.0.0.1", "10.0.0.2", 40002, 80, 0x04), ok});
  cases.push_back({"tcp data", forced::tcp("10.0.0.1", "10.0.0.2", 40002, 80, 0x18, 100), ok});
  cases.push_back({"udp data", udp(8080, 40), ok});
  std::map<std::size_t, std::uint64_t> per_path[2];  // case index -> copies
  for (bool fast : {true, false}) {
    ProgramOptions o;
    o.copy_dns = true;
    o.copy_tcp_control = true;
    o.dns_ports = {53, 5353};
    o.parse_fast_path = fast;
    load(o);
    configure(forced::kRate);
    for (std::size_t i = 0; i < cases.size(); ++i) {
      if (cases[i].frame.size() < 14) continue;
      const std::uint64_t before = stages().clone_attempts;
      __sk_buff ctx{};
      auto r = run(progs->sampler_ingress_fd(), cases[i].frame, ctx);
      if (r.err == -EINVAL) continue;  // no skb for a cut IP header (see the parser corpus test)
      ASSERT_EQ(r.err, 0) << cases[i].name;
      per_path[fast ? 0 : 1][i] = stages().clone_attempts - before;
    }
  }
  ASSERT_EQ(per_path[0].size(), per_path[1].size());
  ASSERT_GT(per_path[0].size(), 20u);
  std::uint64_t copied = 0;
  for (const auto& [i, n] : per_path[0]) {
    EXPECT_EQ(n, per_path[1][i]) << cases[i].name;
    copied += n;
  }
  EXPECT_GE(copied, 4u) << "the corpus and the added frames hold DNS and TCP control packets";
}

TEST_F(SamplerForced, EachFlagTurnsItsCopiesOnAlone) {
  using forced::tcp;
  const auto syn = tcp("10.0.0.1", "10.0.0.2", 40002, 80, 0x02);
  load_forced(false, false);
  EXPECT_EQ(copies(udp(53, 40), 100), 0u);
  EXPECT_EQ(copies(syn, 100), 0u);
  load_forced(true, false);
  EXPECT_EQ(copies(udp(53, 40), 10), 10u);
  EXPECT_EQ(copies(syn, 100), 0u);
  load_forced(false, true);
  EXPECT_EQ(copies(udp(53, 40), 100), 0u);
  EXPECT_EQ(copies(syn, 10), 10u);
}

// The copies reach the mirror's far end with rate 1 and the forced flag in
// their sample header; a copy drawn 1 in N carries N and no flag.
TEST_F(SamplerForced, ForcedCopiesCarryRateOneInTheirSampleHeader) {
  load_forced(true, true);
  // The mirror program on the mirror end's egress; its peer reads the frames.
  const int mirror_if = static_cast<int>(mirror);
  const int err = ns.within([&] {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = mirror_if, .attach_point = BPF_TC_EGRESS);
    bpf_tc_hook_create(&hook);
    LIBBPF_OPTS(bpf_tc_opts, o, .prog_fd = progs->mirror_fd(), .handle = 1, .priority = 1);
    return bpf_tc_attach(&hook, &o);
  });
  ASSERT_EQ(err, 0);
  std::unique_ptr<netring::testing::MirrorReader> reader;
  ns.within([&] { reader = std::make_unique<netring::testing::MirrorReader>(static_cast<int>(hooked)); });
  ASSERT_TRUE(reader->ok());
  EXPECT_EQ(copies(udp(53, 40), 5), 5u);
  EXPECT_EQ(copies(forced::tcp("10.0.0.1", "10.0.0.2", 40002, 80, 0x02), 5), 5u);
  ASSERT_TRUE(progs->set_interface(hooked, 1, NETRING_ROLE_POD));  // now every packet is drawn, at rate 1...
  ASSERT_TRUE(progs->set_interface(hooked, 2, NETRING_ROLE_POD));  // ... or 1 in 2
  const std::uint64_t drawn = copies(udp(8080, 40), 200);
  EXPECT_GT(drawn, 0u);
  reader->drain();
  std::size_t forced_seen = 0, drawn_seen = 0;
  for (const auto& s : reader->samples()) {
    if (s.info.forced) {
      ++forced_seen;
      EXPECT_EQ(s.info.rate, 1u);
      EXPECT_EQ(s.info.weight(), 1.0);
    } else {
      ++drawn_seen;
      EXPECT_EQ(s.info.rate, 2u);
    }
  }
  EXPECT_EQ(forced_seen, 10u);
  EXPECT_EQ(drawn_seen, drawn);
}
