// End to end through the real kernel: a "pod" namespace talks through its
// hooked host-side veth; the sampler clones onto the mirror link, the mirror
// program stamps and truncates, and a plain AF_PACKET socket on the far end
// reads the samples.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <map>
#include <memory>
#include <set>
#include <string>

#include "pkg/common/fd.hpp"
#include "pkg/datapath/datapath.hpp"
#include "tests/testing/datapath_in_netns.hpp"
#include "tests/testing/mirror_reader.hpp"
#include "tests/testing/netns.hpp"

namespace {

using netring::datapath::Datapath;
using netring::datapath::DatapathOptions;
using netring::datapath::Role;
using netring::datapath::Rung;
using netring::datapath::SampleDirection;
using netring::testing::CapturedSample;
using netring::testing::destroy_datapath;
using netring::testing::make_datapath;
using netring::testing::MirrorReader;
using netring::testing::Netns;
using netring::testing::VethOptions;
using netring::testing::VethPair;

struct Topology {
  Netns host{"dh"};
  Netns pod{"dp"};
  VethPair link{pod, host, VethOptions{.addr_a = "10.79.0.2/24", .addr_b = "10.79.0.1/24"}};
  int hooked = link.ifindex_b();
};

DatapathOptions options() {
  DatapathOptions o;
  o.highest_rung = Rung::kAfPacketMirror;  // the test reads the far end itself
  o.programs.heartbeat_timeout_ns = 600'000'000'000ULL;
  return o;
}

std::unique_ptr<MirrorReader> reader(const Netns& ns, const Datapath& d) {
  auto r = ns.within([&] { return std::make_unique<MirrorReader>(d.mirror()->far_ifindex()); });
  EXPECT_TRUE(r->ok());
  return r;
}

TEST(DatapathSamplePath, PingAtRateOneLosesNothingAndEverySampleArrives) {
  Topology t;
  auto dp = make_datapath(t.host, options());
  ASSERT_TRUE(dp);
  auto rd = reader(t.host, *dp);  // before hooking: every clone is read
  ASSERT_TRUE(t.host.within([&] { return dp->hook(t.hooked, 1, Role::kPod); }));

  constexpr int kPings = 1000;
  auto out = t.pod.run_ok("ping -q -c " + std::to_string(kPings) + " -i 0.002 -W 2 10.79.0.1");
  EXPECT_NE(out.find(" 0% packet loss"), std::string::npos) << out;
  auto at_end_of_ping = dp->counters();
  ASSERT_TRUE(at_end_of_ping);
  rd->drain();

  std::set<int> requests, replies;
  for (const CapturedSample& s : rd->samples()) {
    EXPECT_EQ(s.info.ifindex, static_cast<std::uint32_t>(t.hooked));
    EXPECT_EQ(s.info.rate, 1u);
    const int type = netring::testing::icmp_type(s.frame);
    if (type == 8) {
      EXPECT_EQ(s.info.direction, SampleDirection::kIngress);
      EXPECT_TRUE(requests.insert(netring::testing::icmp_seq(s.frame)).second) << "request sampled twice";
    } else if (type == 0) {
      EXPECT_EQ(s.info.direction, SampleDirection::kEgress);
      EXPECT_TRUE(replies.insert(netring::testing::icmp_seq(s.frame)).second) << "reply sampled twice";
    }
  }
  EXPECT_EQ(requests.size(), static_cast<std::size_t>(kPings));
  EXPECT_EQ(replies.size(), static_cast<std::size_t>(kPings));
  EXPECT_EQ(rd->sequence().gaps(), 0u);
  EXPECT_EQ(rd->not_samples(), 0u) << "something other than samples reached the mirror's far end";

  auto c = dp->counters();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->stages.clone_failures, 0u);
  EXPECT_EQ(c->stages.mirror_foreign, 0u);
  EXPECT_EQ(c->stages.mirror_passes, c->stages.clone_attempts);
  // Every clone made until the ping ended was read (the pod's neighbour
  // traffic may add a clone or two after the reader stopped).
  EXPECT_GE(rd->samples().size(), at_end_of_ping->stages.clone_attempts);
  EXPECT_LE(rd->samples().size(), c->stages.clone_attempts);
  std::uint64_t in = 0, eg = 0;
  for (const auto& i : c->interfaces)
    if (i.ifindex == static_cast<std::uint32_t>(t.hooked)) (i.direction == NETRING_DIR_INGRESS ? in : eg) = i.skbs;
  EXPECT_GE(in, static_cast<std::uint64_t>(kPings));
  EXPECT_GE(eg, static_cast<std::uint64_t>(kPings));
  destroy_datapath(t.host, dp);
}

// rx/tx packets of a link as the kernel counts them (netlink: the caller's
// namespace, unlike /sys).
std::pair<std::uint64_t, std::uint64_t> link_packets(const Netns& ns, const std::string& dev) {
  auto out = ns.run_ok("ip -s -j link show dev " + dev);
  auto num = [&](const char* key) -> std::uint64_t {
    auto at = out.find(key);
    if (at == std::string::npos) return 0;
    at = out.find("\"packets\":", at);
    return at == std::string::npos ? 0 : std::stoull(out.substr(at + 10));
  };
  return {num("\"rx\""), num("\"tx\"")};
}

TEST(DatapathSamplePath, SkbCountersMatchTheKernelsLinkStatistics) {
  Topology t;
  auto dp = make_datapath(t.host, options());
  ASSERT_TRUE(dp);
  ASSERT_TRUE(t.host.within([&] { return dp->hook(t.hooked, 0, Role::kPod); }));  // count only
  auto counters = [&] {
    std::pair<std::uint64_t, std::uint64_t> io{0, 0};
    auto c = dp->counters();
    EXPECT_TRUE(c);
    for (const auto& i : c->interfaces)
      if (i.ifindex == static_cast<std::uint32_t>(t.hooked))
        (i.direction == NETRING_DIR_INGRESS ? io.first : io.second) = i.skbs;
    return io;
  };
  // Each read of ours is bracketed by two of the kernel's: whatever ours
  // counted between its reads the kernel counted between the outer ones,
  // and whatever the kernel counted between the inner ones ours counted,
  // whatever background traffic (IPv6 neighbour discovery, ...) the pod
  // sends meanwhile and however slowly the machine runs the reads.
  const auto kernel0_outer = link_packets(t.host, t.link.name_b());
  const auto ours0 = counters();
  const auto kernel0_inner = link_packets(t.host, t.link.name_b());
  t.pod.run_ok("ping -q -c 200 -i 0.002 -W 2 10.79.0.1");
  const auto kernel1_inner = link_packets(t.host, t.link.name_b());
  const auto ours1 = counters();
  const auto kernel1_outer = link_packets(t.host, t.link.name_b());
  // veth counts one packet per skb, as the sampler's `skbs` does.
  EXPECT_GE(ours1.first - ours0.first, 200u);
  EXPECT_GE(ours1.first - ours0.first, kernel1_inner.first - kernel0_inner.first);
  EXPECT_LE(ours1.first - ours0.first, kernel1_outer.first - kernel0_outer.first);
  EXPECT_GE(ours1.second - ours0.second, kernel1_inner.second - kernel0_inner.second);
  EXPECT_LE(ours1.second - ours0.second, kernel1_outer.second - kernel0_outer.second);
  auto c = dp->counters();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->stages.clone_attempts, 0u) << "rate 0 counts only";
  destroy_datapath(t.host, dp);
}

// With nothing counted in the kernel (--exact-flows=off) every sample
// stands for the packets the sampler passed over.
TEST(DatapathSamplePath, IperfCompletesAndWeightsEstimateTheWirePackets) {
  Topology t;
  auto o = options();
  o.programs.exact_flows = netring::datapath::ExactFlows::kOff;
  auto dp = make_datapath(t.host, o);
  ASSERT_TRUE(dp);
  ASSERT_TRUE(t.host.within([&] { return dp->hook(t.hooked, 100, Role::kPod); }));
  auto rd = reader(t.host, *dp);
  auto server = t.host.spawn("iperf3 -s -1 -B 10.79.0.1 -p 5301");
  std::string out;
  bool done = false;
  for (int attempt = 0; attempt < 50 && !done; ++attempt) {  // until the server listens
    // A byte count, not a duration: the number of samples (and so the
    // estimate's spread) must not depend on how fast the machine is.
    auto r = t.pod.run("iperf3 -c 10.79.0.1 -p 5301 -n 300M");
    done = r.ok();
    out = r.output;
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(done) << out;
  rd->drain();

  auto samples = rd->samples();
  ASSERT_GT(samples.size(), 100u);
  double w_in = 0, w_eg = 0, wire_in = 0;
  for (const auto& s : samples) {
    EXPECT_EQ(s.info.ifindex, static_cast<std::uint32_t>(t.hooked));
    EXPECT_LE(s.frame.size(), 128u);
    (s.info.direction == SampleDirection::kIngress ? w_in : w_eg) += s.info.weight();
    if (s.info.direction == SampleDirection::kIngress) wire_in += s.info.wire_packets();
  }
  auto c = dp->counters();
  ASSERT_TRUE(c);
  std::uint64_t segs_in = 0, segs_eg = 0, skbs_in = 0;
  for (const auto& i : c->interfaces)
    if (i.ifindex == static_cast<std::uint32_t>(t.hooked)) {
      (i.direction == NETRING_DIR_INGRESS ? segs_in : segs_eg) = i.segs;
      if (i.direction == NETRING_DIR_INGRESS) skbs_in = i.skbs;
    }
  // The data flows pod -> host: the ingress side carries GSO skbs.
  EXPECT_GT(segs_in, skbs_in) << "no GSO seen; the test would not exercise p = segs/N";
  // Horvitz-Thompson: the sum of 1/p estimates the skbs, the sum of segs/p
  // the wire packets. With thousands of samples the error is a few percent;
  // 25 % only catches a wrong probability or weight (1-in-N per skb would be
  // off by the mean segment count).
  EXPECT_NEAR(w_in, static_cast<double>(skbs_in), 0.25 * static_cast<double>(skbs_in));
  EXPECT_NEAR(wire_in, static_cast<double>(segs_in), 0.25 * static_cast<double>(segs_in));
  EXPECT_GT(w_eg, 0.0);
  // Every lost sample shows up in a counter: the socket's drops, or clone
  // failures. With neither, there is no gap.
  const auto drops = rd->socket_drops();
  if (drops == 0 && c->stages.clone_failures == 0) {
    EXPECT_EQ(rd->sequence().gaps(), 0u);
  }
  EXPECT_EQ(c->stages.mirror_errors, 0u);
  destroy_datapath(t.host, dp);
}

TEST(DatapathSamplePath, AnAcceleratedVlanTagIsCarriedInTheHeader) {
  Topology t;
  // The pod's egress pushes VLAN 100 with bpf_skb_vlan_push: the tag becomes
  // skb metadata (hardware-accelerated form), not frame bytes, and the host
  // side receives it that way. (This kernel has no 8021q devices.)
  const bpf_insn insns[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K,
       .dst_reg = BPF_REG_2,
       .src_reg = 0,
       .off = 0,
       .imm = 0x0081},  // htons(0x8100)
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_3, .src_reg = 0, .off = 0, .imm = 100},
      {.code = BPF_JMP | BPF_CALL, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = BPF_FUNC_skb_vlan_push},
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = TC_ACT_OK},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  netring::UniqueFd tagger(bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "vlan_tagger", "GPL", insns, 5, nullptr));
  ASSERT_TRUE(tagger);
  const int pod_if = t.link.ifindex_a();
  const int err = t.pod.within([&] {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = pod_if, .attach_point = BPF_TC_EGRESS);
    bpf_tc_hook_create(&hook);
    LIBBPF_OPTS(bpf_tc_opts, o, .prog_fd = tagger.get(), .handle = 1, .priority = 1);
    return bpf_tc_attach(&hook, &o);
  });
  ASSERT_EQ(err, 0);
  // Tagged frames are not for the host's stack (no VLAN device): no ARP
  // answer, so the pod gets a static neighbour and its pings go unanswered.
  t.host.run_ok("ip link set dev " + t.link.name_b() + " address 02:00:00:00:79:01");
  t.pod.run_ok("ip neigh replace 10.79.0.1 lladdr 02:00:00:00:79:01 dev " + t.link.name_a());

  auto dp = make_datapath(t.host, options());
  ASSERT_TRUE(dp);
  auto rd = reader(t.host, *dp);
  ASSERT_TRUE(t.host.within([&] { return dp->hook(t.hooked, 1, Role::kPod); }));
  t.pod.run("ping -q -c 5 -i 0.05 -W 1 10.79.0.1");
  rd->drain();
  std::size_t tagged_requests = 0;
  for (const auto& s : rd->samples()) {
    if (netring::testing::icmp_type(s.frame) != 8) continue;  // untagged IPv4 in the frame bytes
    EXPECT_TRUE(s.info.has_vlan);
    EXPECT_EQ(s.info.vlan_tci & 0x0fff, 100);
    EXPECT_EQ(s.info.vlan_proto, 0x8100);
    ++tagged_requests;
  }
  EXPECT_EQ(tagged_requests, 5u);
  destroy_datapath(t.host, dp);
}

TEST(DatapathSamplePath, PodToPodIsSampledExactlyOnce) {
  Netns host("xh"), a("xa"), b("xb");
  VethPair la(a, host, VethOptions{.addr_a = "10.81.1.2/24", .addr_b = "10.81.1.1/24"});
  VethPair lb(b, host, VethOptions{.addr_a = "10.81.2.2/24", .addr_b = "10.81.2.1/24"});
  host.run_ok("sysctl -qw net.ipv4.ip_forward=1");
  a.run_ok("ip route add default via 10.81.1.1");
  b.run_ok("ip route add default via 10.81.2.1");
  const int ia = la.ifindex_b(), ib = lb.ifindex_b();
  auto dp = make_datapath(host, options());
  ASSERT_TRUE(dp);
  ASSERT_TRUE(host.within([&] { return dp->hook(ia, 1, Role::kPod); }));
  ASSERT_TRUE(host.within([&] { return dp->hook(ib, 1, Role::kPod); }));
  auto rd = reader(host, *dp);
  constexpr int kPings = 100;
  a.run_ok("ping -q -c " + std::to_string(kPings) + " -i 0.01 -W 2 10.81.2.2");
  rd->drain();

  std::map<std::pair<int, int>, int> seen;  // (type, seq) -> times sampled
  for (const auto& s : rd->samples()) {
    const int type = netring::testing::icmp_type(s.frame);
    if (type != 0 && type != 8) continue;
    ++seen[{type, netring::testing::icmp_seq(s.frame)}];
    // Requests enter at A's veth, replies at B's: both on ingress.
    EXPECT_EQ(s.info.direction, SampleDirection::kIngress);
    EXPECT_EQ(s.info.ifindex, static_cast<std::uint32_t>(type == 8 ? ia : ib));
  }
  EXPECT_EQ(seen.size(), 2u * kPings);
  for (const auto& [key, n] : seen) EXPECT_EQ(n, 1) << "type " << key.first << " seq " << key.second;
  auto c = dp->counters();
  ASSERT_TRUE(c);
  EXPECT_GE(c->stages.skip_forwarded, 2u * kPings);
  destroy_datapath(host, dp);
}

}  // namespace
