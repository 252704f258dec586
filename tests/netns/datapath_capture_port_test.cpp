// The capture mode on a port that carries copies only: AF_XDP with the
// redirect program natively where the driver has XDP (veth), TPACKET_V3
// fanout where it has not (a bridge device), with the reason.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "pkg/datapath/capture_port.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/ok_within.hpp"
#include "tests/testing/stream_consumer.hpp"

namespace {

using netring::datapath::CapturePort;
using netring::datapath::CapturePortOptions;
using netring::testing::Netns;
using netring::testing::StreamConsumer;
using netring::testing::VethOptions;
using netring::testing::VethPair;

std::optional<CapturePort> open_port(const Netns& ns, const CapturePortOptions& o) {
  return netring::testing::ok_within(ns, [&] { return netring::datapath::open_capture_port(o); });
}

TEST(CapturePort, NativeXdpPortDeliversEveryFrameOnAfXdp) {
  Netns tap("ct"), span("cs");
  // The "switch" sends copies out of `span` into the port in `tap`.
  VethPair link(span, tap, VethOptions{.addr_a = "10.87.0.2/24", .addr_b = "10.87.0.1/24", .queues = 2});
  const int port_ifindex = link.ifindex_b();
  CapturePortOptions o;
  o.interface = link.name_b();
  auto port = open_port(tap, o);
  ASSERT_TRUE(port);
  EXPECT_EQ(port->backend, netring::capture::Backend::kAfXdp);
  EXPECT_TRUE(port->fallback_reason.empty()) << port->fallback_reason;
  EXPECT_EQ(port->streams.size(), 2u);
  StreamConsumer consumer(std::move(port->streams));
  // Static neighbour: the port answers nothing (its frames go to AF_XDP).
  span.run_ok("ip neigh add 10.87.0.1 lladdr 02:00:00:00:00:09 dev " + link.name_a());
  span.run("ping -q -c 40 -i 0.01 -W 1 10.87.0.1");
  consumer.drain();
  std::size_t requests = 0;
  for (const auto& s : consumer.samples()) {
    EXPECT_EQ(s.info.ifindex, static_cast<std::uint32_t>(port_ifindex));
    EXPECT_LE(s.frame.size(), 128u);
    if (netring::testing::icmp_type(s.frame) == 8) ++requests;
  }
  EXPECT_EQ(requests, 40u);
}

TEST(CapturePort, PortWithoutNativeXdpFallsBackToTpacket) {
  Netns ns("cd");
  ns.run_ok("ip link add nrbr0 type bridge && ip link set nrbr0 up");
  CapturePortOptions o;
  o.interface = "nrbr0";
  auto port = open_port(ns, o);
  ASSERT_TRUE(port);
  EXPECT_EQ(port->backend, netring::capture::Backend::kAfPacket);
  EXPECT_NE(port->fallback_reason.find("nrbr0"), std::string::npos) << port->fallback_reason;
  EXPECT_FALSE(port->streams.empty());
}

}  // namespace
