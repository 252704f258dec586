// bench/pod_cost.sh's UDP sink (bench/udp_sink.bpf.c) run by the kernel on
// crafted packets (BPF_PROG_TEST_RUN): the flood's packets are stolen and
// counted, everything else passes untouched. The benchmark's delivered
// count and its claim that the flood is not a drop storm rest on this.
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <memory>
#include <numeric>
#include <vector>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/udp_sink.skel.h"
#include "tests/testing/bpf_prog_run.hpp"
#include "tests/testing/packet_builder.hpp"

namespace {

using netring::testing::PacketBuilder;
using netring::testing::prog_run;

struct SkelDeleter {
  void operator()(udp_sink_bpf* s) const { udp_sink_bpf__destroy(s); }
};
using Skel = std::unique_ptr<udp_sink_bpf, SkelDeleter>;

Skel load(std::uint16_t dport) {
  Skel s(udp_sink_bpf__open());
  EXPECT_TRUE(s);
  if (!s) return nullptr;
  s->rodata->dport = dport;
  EXPECT_EQ(udp_sink_bpf__load(s.get()), 0);
  return s;
}

std::uint64_t consumed(const udp_sink_bpf& s) {
  std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(libbpf_num_possible_cpus()));
  const std::uint32_t zero = 0;
  EXPECT_EQ(bpf_map_lookup_elem(bpf_map__fd(s.maps.consumed), &zero, per_cpu.data()), 0);
  return std::accumulate(per_cpu.begin(), per_cpu.end(), std::uint64_t{0});
}

std::uint32_t run(const udp_sink_bpf& s, const std::vector<std::uint8_t>& pkt) {
  auto r = prog_run(bpf_program__fd(s.progs.udp_sink), pkt);
  EXPECT_EQ(r.err, 0);
  EXPECT_EQ(r.data, pkt) << "the sink never changes a packet";
  return r.retval;
}

TEST(UdpSinkProg, StealsAndCountsUdpToItsPort) {
  auto s = load(9);
  ASSERT_TRUE(s);
  const auto flood = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(20000, 9).payload(18).build();
  EXPECT_EQ(run(*s, flood), static_cast<std::uint32_t>(TC_ACT_STOLEN));
  EXPECT_EQ(run(*s, flood), static_cast<std::uint32_t>(TC_ACT_STOLEN));
  EXPECT_EQ(consumed(*s), 2u);
}

TEST(UdpSinkProg, PassesEverythingElse) {
  auto s = load(9);
  ASSERT_TRUE(s);
  const std::vector<std::vector<std::uint8_t>> others = {
      PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(20000, 10).payload(18).build(),  // another port
      PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").tcp(20000, 9).build(),               // TCP to the port
      PacketBuilder().eth().ipv6("fd00::1", "fd00::2").udp(20000, 9).payload(18).build(),     // IPv6
      PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(9, 20000).payload(18).build(),   // from the port
  };
  for (const auto& pkt : others) EXPECT_EQ(run(*s, pkt), static_cast<std::uint32_t>(TC_ACT_OK));
  EXPECT_EQ(consumed(*s), 0u);
}

TEST(UdpSinkProg, PortIsSetBeforeLoad) {
  auto s = load(5201);
  ASSERT_TRUE(s);
  EXPECT_EQ(run(*s, PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(20000, 9).payload(18).build()),
            static_cast<std::uint32_t>(TC_ACT_OK));
  EXPECT_EQ(run(*s, PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(20000, 5201).payload(18).build()),
            static_cast<std::uint32_t>(TC_ACT_STOLEN));
  EXPECT_EQ(consumed(*s), 1u);
}

}  // namespace
