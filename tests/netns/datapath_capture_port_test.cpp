// The capture mode on a port that carries copies only: the XSKMAP program
// straight on the port (native where the driver has XDP, generic where it
// has not or when asked), one AF_XDP socket per RX queue, every frame
// counted by the program, 1 in N sampled; TPACKET_V3 with fanout where no
// program can be attached. A generator in another namespace sends an exact
// number of frames; the port must count and deliver exactly those.
#include <gtest/gtest.h>
#include <linux/capability.h>

#include <array>
#include <chrono>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pkg/datapath/capture_port.hpp"
#include "tests/testing/capabilities.hpp"
#include "tests/testing/frame_generator.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/ok_within.hpp"

namespace {

using netring::datapath::CapturePort;
using netring::datapath::CapturePortOptions;
using netring::datapath::CaptureXdpMode;
using netring::datapath::Sample;
using netring::testing::Netns;
using netring::testing::VethOptions;
using netring::testing::VethPair;

// A SPAN-like link: the "switch" end in `span`, the capture port in `tap`,
// nothing but the generator's frames on it.
struct Span {
  explicit Span(int queues = 1) : span("cs"), tap("ct") {
    netring::testing::quiet_ipv6(span);
    VethOptions vo;
    vo.queues = queues;
    link.emplace(span, tap, vo);
  }
  Netns span, tap;
  std::optional<VethPair> link;
  const std::string& port() const { return link->name_b(); }
};

std::optional<CapturePort> open_port(const Netns& ns, const CapturePortOptions& o) {
  return netring::testing::ok_within(ns, [&] { return netring::datapath::open_capture_port(o); });
}

bool is_generated(const Sample& s) {
  const auto& f = s.frame;
  return f.size() >= 42 && f[12] == std::byte{0x08} && f[13] == std::byte{0x00} && f[23] == std::byte{17} &&
         std::to_integer<unsigned>(f[36]) == (netring::testing::kGenDportBase >> 8);
}

struct Drained {
  std::vector<std::uint64_t> per_stream;  // generated frames read from each stream
  std::uint64_t total = 0;
  std::uint64_t other = 0;  // anything else
  double weight = 0;        // sum of the samples' weights
};

// Reads every stream until `expect` generated frames arrived and nothing
// more came for 300 ms (or 30 s passed).
Drained drain(CapturePort& port, std::uint64_t expect) {
  Drained d;
  d.per_stream.resize(port.streams.size());
  std::array<Sample, 64> batch;
  auto quiet_since = std::chrono::steady_clock::now();
  const auto deadline = quiet_since + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    bool any = false;
    for (std::size_t i = 0; i < port.streams.size(); ++i) {
      auto n = port.streams[i]->poll(batch);
      if (!n || *n == 0) continue;
      any = true;
      for (std::size_t k = 0; k < *n; ++k) {
        if (is_generated(batch[k])) {
          ++d.per_stream[i];
          ++d.total;
          d.weight += batch[k].info.weight();
        } else {
          ++d.other;
        }
      }
      port.streams[i]->release();
    }
    const auto now = std::chrono::steady_clock::now();
    if (any) quiet_since = now;
    if (d.total >= expect && now - quiet_since > std::chrono::milliseconds(300)) break;
    if (!any) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return d;
}

// Sends on a thread of its own while the caller drains.
class Sender {
 public:
  Sender(const Netns& ns, const std::string& ifname, const std::vector<std::vector<std::uint8_t>>& frames)
      : th_([&ns, ifname, &frames, this] { sent_ = netring::testing::send_paced(ns, ifname, frames); }) {}
  std::size_t join() {
    th_.join();
    return sent_;
  }
  ~Sender() {
    if (th_.joinable()) th_.join();
  }

 private:
  std::size_t sent_ = 0;
  std::thread th_;
};

TEST(CapturePort, NativeXdpOnEveryQueueCountsAndDeliversExactlyTheFramesSent) {
  Span s(2);
  CapturePortOptions o;
  o.interface = s.port();
  auto port = open_port(s.tap, o);
  ASSERT_TRUE(port);
  EXPECT_EQ(port->backend, netring::capture::Backend::kAfXdp);
  EXPECT_EQ(port->xdp_mode, "native");
  EXPECT_TRUE(port->reason.empty()) << port->reason;
  EXPECT_EQ(port->queues, 2u) << "every RX queue of the port";
  EXPECT_EQ(port->streams.size(), 2u);
  EXPECT_FALSE(port->zero_copy) << "veth has no AF_XDP zero-copy";
  // The program is on the port, natively.
  EXPECT_NE(s.tap.run_ok("ip link show dev " + s.port()).find("prog/xdp"), std::string::npos);

  const auto frames = netring::testing::udp_flow_frames(16, 250, 200);  // 4000 frames
  Sender gen(s.span, s.link->name_a(), frames);
  const Drained d = drain(*port, frames.size());
  ASSERT_EQ(gen.join(), frames.size());
  EXPECT_EQ(d.total, frames.size());
  EXPECT_EQ(d.other, 0u);
  EXPECT_GT(d.per_stream[0], 0u) << "flows spread over both queues";
  EXPECT_GT(d.per_stream[1], 0u) << "flows spread over both queues";
  EXPECT_DOUBLE_EQ(d.weight, static_cast<double>(frames.size())) << "rate 1: each frame stands for itself";
  auto c = port->counter->read();
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->frames, frames.size());
  EXPECT_EQ(c->bytes, frames.size() * 200);
  EXPECT_EQ(c->redirected, frames.size());
  EXPECT_EQ(c->redirect_miss, 0u);
  EXPECT_EQ(c->sampled_out, 0u);
  for (auto& st : port->streams) {
    auto x = st->stats();
    EXPECT_EQ(x.capture.kernel_drops, 0u);
  }
}

TEST(CapturePort, SampleRateKeepsOneInNAndStillCountsEveryFrame) {
  Span s;
  CapturePortOptions o;
  o.interface = s.port();
  o.sample_rate = 10;
  auto port = open_port(s.tap, o);
  ASSERT_TRUE(port);
  const auto frames = netring::testing::udp_flow_frames(4, 2500, 100);  // 10000 frames
  Sender gen(s.span, s.link->name_a(), frames);
  Drained d = drain(*port, 700);
  ASSERT_EQ(gen.join(), frames.size());
  const Drained rest = drain(*port, 0);
  d.total += rest.total;
  d.weight += rest.weight;
  auto c = port->counter->read();
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->frames, frames.size()) << "every frame is counted";
  EXPECT_EQ(c->sampled_out + c->redirected, frames.size());
  EXPECT_EQ(d.total, c->redirected);
  // Binomial(10000, 1/10): mean 1000, sd 30; 700..1300 is 10 sd.
  EXPECT_GT(d.total, 700u);
  EXPECT_LT(d.total, 1300u);
  EXPECT_DOUBLE_EQ(d.weight, 10.0 * static_cast<double>(d.total)) << "each sample stands for 10 frames";
}

TEST(CapturePort, GenericXdpWhenAskedCountsTheSameFrames) {
  Span s;
  CapturePortOptions o;
  o.interface = s.port();
  o.xdp_mode = CaptureXdpMode::kGeneric;
  auto port = open_port(s.tap, o);
  ASSERT_TRUE(port);
  EXPECT_EQ(port->backend, netring::capture::Backend::kAfXdp);
  EXPECT_EQ(port->xdp_mode, "generic");
  EXPECT_NE(port->reason.find("generic mode requested"), std::string::npos) << port->reason;
  EXPECT_NE(s.tap.run_ok("ip link show dev " + s.port()).find("xdpgeneric"), std::string::npos);
  const auto frames = netring::testing::udp_flow_frames(3, 500, 300);
  Sender gen(s.span, s.link->name_a(), frames);
  const Drained d = drain(*port, frames.size());
  ASSERT_EQ(gen.join(), frames.size());
  EXPECT_EQ(d.total, frames.size());
  auto c = port->counter->read();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->frames, frames.size());
}

TEST(CapturePort, PortWithoutNativeXdpTakesGenericOrTpacketWhenNativeIsRequired) {
  Netns ns("cd");
  ns.run_ok("ip link add nrbr0 type bridge && ip link set nrbr0 up");
  CapturePortOptions o;
  o.interface = "nrbr0";
  {
    auto port = open_port(ns, o);
    ASSERT_TRUE(port);
    EXPECT_EQ(port->backend, netring::capture::Backend::kAfXdp);
    EXPECT_EQ(port->xdp_mode, "generic");
    EXPECT_NE(port->reason.find("native XDP attach failed"), std::string::npos) << port->reason;
  }
  o.xdp_mode = CaptureXdpMode::kNative;
  auto port = open_port(ns, o);
  ASSERT_TRUE(port);
  EXPECT_EQ(port->backend, netring::capture::Backend::kAfPacket);
  EXPECT_TRUE(port->xdp_mode.empty());
  EXPECT_NE(port->reason.find("nrbr0"), std::string::npos) << port->reason;
  EXPECT_NE(port->reason.find("native XDP"), std::string::npos) << port->reason;
  EXPECT_FALSE(port->streams.empty());
}

TEST(CapturePort, WithoutCapBpfTpacketWithFanoutCountsExactlyFromTheDevice) {
  Span s(2);
  const std::string port_name = s.port(), gen_if = s.link->name_a();
  const auto frames = netring::testing::udp_flow_frames(8, 250, 150);
  const std::string out = netring::testing::in_child([&]() -> std::string {
    // The generator keeps every capability (it enters its namespace with
    // setns): it waits on its own thread until the port is open.
    std::promise<void> opened;
    std::size_t sent = 0;
    std::thread gen([&, ready = opened.get_future()]() mutable {
      if (ready.wait_for(std::chrono::seconds(30)) != std::future_status::ready) return;
      sent = netring::testing::send_paced(s.span, gen_if, frames);
    });
    // The capture side runs on a thread of the port's namespace that
    // dropped what loading BPF takes (after setns, which needs CAP_SYS_ADMIN).
    std::string r = s.tap.within([&]() -> std::string {
      if (!netring::testing::drop_caps({CAP_BPF, CAP_SYS_ADMIN, CAP_PERFMON})) return "capset failed";
      CapturePortOptions o;
      o.interface = port_name;
      auto port = netring::datapath::open_capture_port(o);
      if (!port) return "open failed: " + port.error().message();
      opened.set_value();
      if (port->backend != netring::capture::Backend::kAfPacket) return "backend is not TPACKET_V3";
      if (port->reason.find("CAP_BPF") == std::string::npos) return "reason does not name CAP_BPF: " + port->reason;
      if (port->streams.size() != 2) return "not one fanout member per queue: " + std::to_string(port->streams.size());
      const Drained d = drain(*port, frames.size());
      if (d.total != frames.size())
        return "delivered " + std::to_string(d.total) + " of " + std::to_string(frames.size());
      if (d.per_stream[0] == 0 || d.per_stream[1] == 0) return "a fanout member got nothing";
      auto c = port->counter->read();
      if (!c) return "counter: " + c.error().message();
      if (c->frames != frames.size()) return "device counted " + std::to_string(c->frames);
      if (c->bytes != frames.size() * 150) return "device counted bytes " + std::to_string(c->bytes);
      return "";
    });
    gen.join();
    if (r.empty() && sent != frames.size()) r = "generator sent " + std::to_string(sent);
    return r;
  });
  EXPECT_EQ(out, "");
}

}  // namespace
