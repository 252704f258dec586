// 1-in-N sampling socket filters (eBPF and classic) on real AF_PACKET
// sockets: the captured share is binomial, and PACKET_STATISTICS shows that
// the unsampled packets never reached the ring.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "pkg/packet/filter.hpp"
#include "pkg/packet/socket.hpp"
#include "tests/testing/capture_helpers.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/raw_sender.hpp"

namespace {

using netring::packet::PacketSocket;
using netring::packet::RingGeometry;
using netring::packet::SocketOptions;
using netring::testing::Netns;
using netring::testing::numbered_frame;
using netring::testing::RawSender;
using netring::testing::VethPair;

enum class Form { kEbpf, kClassic };

struct Outcome {
  std::size_t captured = 0;
  std::uint64_t kernel_packets = 0;
  std::uint64_t kernel_drops = 0;
  std::size_t snap_violations = 0;
};

// Sends `frames` frames a -> b through a veth and captures on b with the
// sampler attached before the socket starts receiving.
Outcome sample(Form form, std::uint32_t rate, std::uint32_t frames, std::uint32_t snap = 0) {
  Netns a("sa"), b("sb");
  netring::testing::disable_ipv6(a);
  netring::testing::disable_ipv6(b);
  VethPair v(a, b);
  netring::packet::EbpfSampler prog = [&] {
    auto p = netring::packet::EbpfSampler::load(rate, snap);
    if (!p) throw std::runtime_error(p.error().message());
    return std::move(*p);
  }();
  PacketSocket s = b.within([&] {
    auto c = PacketSocket::create(
        SocketOptions{.interface = v.name_b(), .ring = RingGeometry{.block_size = 1 << 16, .block_count = 64}});
    if (!c) throw std::runtime_error(c.error().message());
    auto att = form == Form::kEbpf
                   ? netring::packet::attach_ebpf(c->fd(), prog.prog_fd())
                   : netring::packet::attach_classic(c->fd(), netring::packet::classic_sampler(rate, snap));
    if (!att) throw std::runtime_error(att.error().message());
    if (auto st = c->start(); !st) throw std::runtime_error(st.error().message());
    return std::move(*c);
  });
  RawSender tx = a.within([&] { return RawSender(v.name_a()); });
  for (std::uint32_t i = 0; i < frames; ++i) {
    EXPECT_TRUE(tx.send(numbered_frame(i, 200)));
    if (i % 100 == 99) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Everything was sent before collecting starts: read until a whole window
  // passes without a frame (how many will come is what is being measured).
  Outcome o;
  while (true) {
    auto got = netring::testing::drain(s, frames, std::chrono::seconds(2));
    o.captured += got.size();
    for (const auto& c : got) o.snap_violations += snap != 0 && c.bytes.size() != snap;
    if (got.empty()) break;
  }
  auto st = s.stats();
  EXPECT_TRUE(st.ok());
  o.kernel_packets = st->packets;
  o.kernel_drops = st->drops;
  return o;
}

void expect_binomial(const Outcome& o, std::uint32_t frames, std::uint32_t rate) {
  // ±6 sd of Binomial(frames, 1/rate): false failure ~2e-9, and far from
  // the 0 or `frames` a broken filter would give.
  const double p = 1.0 / rate;
  const double mean = frames * p;
  const double sd = std::sqrt(frames * p * (1 - p));
  EXPECT_NEAR(static_cast<double>(o.captured), mean, 6 * sd);
  // The kernel counted exactly what reached the ring (IPv6 is off, so our
  // frames are all there is): the other ~frames*(1-p) packets were dropped
  // by the filter before the ring and never counted.
  EXPECT_EQ(o.kernel_packets, o.captured);
  EXPECT_EQ(o.kernel_drops, 0u);
}

TEST(PacketFilter, EbpfSamplerKeepsOneInN) {
  constexpr std::uint32_t kFrames = 4000, kRate = 8;
  expect_binomial(sample(Form::kEbpf, kRate, kFrames), kFrames, kRate);
}

TEST(PacketFilter, ClassicSamplerKeepsOneInN) {
  constexpr std::uint32_t kFrames = 4000, kRate = 8;
  expect_binomial(sample(Form::kClassic, kRate, kFrames), kFrames, kRate);
}

TEST(PacketFilter, RateOneKeepsAllAndRateZeroNone) {
  for (Form f : {Form::kEbpf, Form::kClassic}) {
    auto all = sample(f, 1, 300);
    EXPECT_EQ(all.captured, 300u);
    auto none = sample(f, 0, 300);
    EXPECT_EQ(none.captured, 0u);
    EXPECT_EQ(none.kernel_packets, 0u);
  }
}

TEST(PacketFilter, SnapLengthTruncatesBothForms) {
  for (Form f : {Form::kEbpf, Form::kClassic}) {
    auto o = sample(f, 1, 100, 64);
    EXPECT_EQ(o.captured, 100u);
    EXPECT_EQ(o.snap_violations, 0u);
  }
}

TEST(PacketFilter, ClassicProgramShape) {
  EXPECT_EQ(netring::packet::classic_sampler(0, 0).size(), 1u);
  auto p = netring::packet::classic_sampler(16, 128);
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[0].k, static_cast<std::uint32_t>(SKF_AD_OFF + SKF_AD_RANDOM));
  EXPECT_EQ(p[1].k, 16u);
  EXPECT_EQ(p[3].k, 128u);
  EXPECT_EQ(p[4].k, 0u) << "unsampled packets return 0";
}

TEST(PacketFilter, EmptyClassicProgramIsRefused) {
  auto r = netring::packet::attach_classic(-1, {}, "eth0");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("eth0"), std::string::npos);
}

}  // namespace
