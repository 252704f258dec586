// The eBPF sampling socket filter, run in the kernel with BPF_PROG_TEST_RUN.
#include <gtest/gtest.h>

#include <cmath>

#include "bpf/socket_sampler.skel.h"
#include "pkg/bpf/skeleton.hpp"
#include "tests/testing/bpf_prog_run.hpp"
#include "tests/testing/packet_builder.hpp"

namespace {

using netring::bpf::Skeleton;
using netring::testing::PacketBuilder;
using netring::testing::prog_run;
using SamplerSkel = Skeleton<socket_sampler_bpf, socket_sampler_bpf__destroy>;

SamplerSkel load(std::uint32_t rate, std::uint32_t snap) {
  SamplerSkel s(socket_sampler_bpf__open());
  if (!s) return s;
  s->rodata->sample_rate = rate;
  s->rodata->snap_len = snap;
  if (socket_sampler_bpf__load(s.get()) != 0) s.reset();
  return s;
}

std::vector<std::uint8_t> udp_frame() {
  return PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(1000, 2000).payload(100).build();
}

TEST(SocketSampler, RateOneKeepsEveryPacketWhole) {
  auto s = load(1, 0);
  ASSERT_TRUE(s) << "loading the embedded socket_sampler failed";
  auto pkt = udp_frame();
  auto r = prog_run(bpf_program__fd(s->progs.socket_sampler), pkt);
  ASSERT_EQ(r.err, 0);
  // BPF_PROG_TEST_RUN hands socket filters the skb at the network header
  // (only TC/LWT programs get the L2 header pushed), so skb->len excludes
  // the 14-byte Ethernet header here; on a packet socket it includes it.
  EXPECT_EQ(r.retval, pkt.size() - 14);
}

TEST(SocketSampler, SnapLengthTruncates) {
  auto s = load(1, 64);
  ASSERT_TRUE(s);
  auto r = prog_run(bpf_program__fd(s->progs.socket_sampler), udp_frame());
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, 64u);
}

TEST(SocketSampler, RateZeroKeepsNothing) {
  auto s = load(0, 0);
  ASSERT_TRUE(s);
  auto r = prog_run(bpf_program__fd(s->progs.socket_sampler), udp_frame(), nullptr, 0, nullptr, 1000);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, 0u);
}

TEST(SocketSampler, OneInNKeepsABinomialShare) {
  constexpr std::uint32_t kRate = 4;
  constexpr int kRuns = 4000;
  auto s = load(kRate, 0);
  ASSERT_TRUE(s);
  const int fd = bpf_program__fd(s->progs.socket_sampler);
  auto pkt = udp_frame();
  int kept = 0;
  for (int i = 0; i < kRuns; ++i) {
    auto r = prog_run(fd, pkt);
    ASSERT_EQ(r.err, 0);
    if (r.retval != 0) ++kept;
  }
  // Binomial(4000, 1/4): mean 1000, sd 27.4; ±6 sd is a false-failure rate
  // of ~2e-9, and still far from the 0 or 4000 a broken filter gives.
  const double mean = kRuns / static_cast<double>(kRate);
  const double sd = std::sqrt(kRuns * (1.0 / kRate) * (1.0 - 1.0 / kRate));
  EXPECT_NEAR(kept, mean, 6 * sd);
}

}  // namespace
