// capture::open(): forced modes, and the automatic fallback to AF_PACKET
// with its reason when AF_XDP cannot serve (here: native XDP required on a
// ifb interface, whose driver has no XDP support).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "pkg/capture/source.hpp"
#include "tests/testing/capture_helpers.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/raw_sender.hpp"

namespace {

using netring::capture::Backend;
using netring::capture::Direction;
using netring::capture::OpenRequest;
using netring::capture::PacketView;
using netring::testing::Netns;
using netring::testing::RawSender;

class CaptureOpen : public ::testing::Test {
 protected:
  CaptureOpen() : ns_("open") {
    netring::testing::disable_ipv6(ns_);
    ns_.run_ok("ip link add nrifb0 type ifb && ip link set nrifb0 up");
  }
  Netns ns_;
};

TEST_F(CaptureOpen, AutoFallsBackToAfPacketWithTheReasonAndCaptures) {
  auto opened = ns_.within(
      [&] { return netring::capture::open(OpenRequest{.interface = "nrifb0", .require_native_xdp = true}); });
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  EXPECT_EQ(opened->backend, Backend::kAfPacket);
  EXPECT_NE(opened->fallback_reason.find("AF_XDP unavailable on nrifb0"), std::string::npos) << opened->fallback_reason;
  // The reason carries AF_XDP's own error, for logs and /api/v1/status.
  EXPECT_GT(opened->fallback_reason.size(), std::string("AF_XDP unavailable on nrifb0: ").size());
  std::printf("fallback reason: %s\n", opened->fallback_reason.c_str());
  ASSERT_EQ(opened->sources.size(), 1u);
  auto& src = *opened->sources[0];
  EXPECT_EQ(src.backend(), Backend::kAfPacket);

  // ifb drops what is sent to it outside tc, but packet taps see it first: the
  // AF_PACKET source captures it as outgoing.
  RawSender tx = ns_.within([] { return RawSender("nrifb0", /*qdisc_bypass=*/false); });
  auto frame = netring::testing::numbered_frame(7);
  ASSERT_TRUE(tx.send(frame));
  PacketView batch[8];
  std::size_t got = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (got == 0 && std::chrono::steady_clock::now() < end) {
    ASSERT_TRUE(src.wait(100).ok());
    auto n = src.poll_batch(batch);
    ASSERT_TRUE(n.ok());
    for (std::size_t i = 0; i < *n; ++i) {
      std::uint32_t num, flow;
      if (!netring::testing::parse_numbered(batch[i].data, batch[i].len, num, flow)) continue;
      EXPECT_EQ(num, 7u);
      EXPECT_EQ(batch[i].direction, Direction::kEgress);
      ++got;
    }
    src.release();
  }
  EXPECT_EQ(got, 1u);
}

TEST(CaptureOpenXdp, AutoPicksAfXdpWhereItServes) {
  Netns a("xa"), b("xb");
  netring::testing::VethPair v(a, b);
  auto opened = b.within([&] { return netring::capture::open(OpenRequest{.interface = v.name_b()}); });
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  EXPECT_EQ(opened->backend, Backend::kAfXdp);
  EXPECT_TRUE(opened->fallback_reason.empty()) << opened->fallback_reason;
  ASSERT_EQ(opened->sources.size(), 1u);
  EXPECT_EQ(opened->sources[0]->backend(), Backend::kAfXdp);
}

TEST_F(CaptureOpen, ForcedAfXdpReportsWhyItCannot) {
  auto r = ns_.within([&] {
    return netring::capture::open(
        OpenRequest{.interface = "nrifb0", .mode = OpenRequest::Mode::kForceAfXdp, .require_native_xdp = true});
  });
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(r.error().message().empty());
}

TEST_F(CaptureOpen, ForcedAfPacketNeedsNoReason) {
  auto r = ns_.within([&] {
    return netring::capture::open(OpenRequest{
        .interface = "nrifb0", .queues = {0, 1}, .mode = OpenRequest::Mode::kForceAfPacket, .sample_rate = 4});
  });
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->backend, Backend::kAfPacket);
  EXPECT_TRUE(r->fallback_reason.empty());
  ASSERT_EQ(r->sources.size(), 2u) << "one fanout member per requested queue";
  EXPECT_NE(r->sources[0]->describe().find("1-in-4"), std::string::npos) << r->sources[0]->describe();
}

TEST_F(CaptureOpen, UnknownInterfaceFailsInEveryMode) {
  for (auto m : {OpenRequest::Mode::kAuto, OpenRequest::Mode::kForceAfPacket, OpenRequest::Mode::kForceAfXdp}) {
    auto r = ns_.within([&] { return netring::capture::open(OpenRequest{.interface = "nr-nothere0", .mode = m}); });
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("nr-nothere0"), std::string::npos) << r.error().message();
  }
}

}  // namespace
