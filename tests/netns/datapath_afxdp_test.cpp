// The whole sampling path on its top rung: sampler -> mirror program ->
// XDP redirect program on the mirror's far end -> AF_XDP sockets (one per
// queue, shared UMEM) -> SampleStream.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "pkg/datapath/datapath.hpp"
#include "tests/testing/mirror_reader.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/stream_consumer.hpp"

namespace {

using netring::datapath::Datapath;
using netring::datapath::DatapathOptions;
using netring::datapath::Role;
using netring::datapath::Rung;
using netring::datapath::Sample;
using netring::datapath::SampleDirection;
using netring::datapath::SampleStream;
using netring::testing::CapturedSample;
using netring::testing::Netns;
using netring::testing::StreamConsumer;
using netring::testing::VethOptions;
using netring::testing::VethPair;

struct Pipeline {
  explicit Pipeline(int mtu = 1500)
      : link{pod, host, VethOptions{.addr_a = "10.86.0.2/24", .addr_b = "10.86.0.1/24", .mtu = mtu}} {}
  Netns host{"ah"};
  Netns pod{"ap"};
  VethPair link;
  const int hooked = link.ifindex_b();  // ifindex_b() asks the namespace each time
  std::unique_ptr<Datapath> dp;
  std::unique_ptr<StreamConsumer> consumer;

  bool start(std::uint32_t rate, std::uint32_t workers, std::uint32_t snap_len = 128) {
    std::string err;
    host.within([&] {
      DatapathOptions o;
      o.workers = workers;
      o.programs.snap_len = snap_len;
      o.programs.heartbeat_timeout_ns = 600'000'000'000ULL;
      auto d = Datapath::create(o);
      if (!d) {
        err = d.error().message();
        return;
      }
      dp = std::move(d).value();
      auto s = dp->open_sources();
      if (!s) {
        err = s.error().message();
        return;
      }
      consumer = std::make_unique<StreamConsumer>(std::move(s).value());
      auto h = dp->hook(hooked, rate, Role::kPod);
      if (!h) err = h.error().message();
    });
    EXPECT_TRUE(err.empty()) << err;
    return err.empty();
  }
  ~Pipeline() {
    if (consumer) consumer->stop();
    host.within([&] {
      consumer.reset();
      dp.reset();
    });
  }
};

TEST(DatapathAfXdp, PingAtRateOneEverySampleArrivesOnTheSockets) {
  Pipeline s;
  ASSERT_TRUE(s.start(1, 2));
  ASSERT_EQ(s.dp->rung(), Rung::kAfXdpMirror);
  constexpr int kPings = 1000;
  auto out = s.pod.run_ok("ping -q -c " + std::to_string(kPings) + " -i 0.002 -W 2 10.86.0.1");
  EXPECT_NE(out.find(" 0% packet loss"), std::string::npos) << out;
  s.consumer->drain();
  std::set<int> requests, replies;
  for (const auto& c : s.consumer->samples()) {
    EXPECT_EQ(c.info.ifindex, static_cast<std::uint32_t>(s.hooked));
    const int type = netring::testing::icmp_type(c.frame);
    if (type == 8) {
      EXPECT_EQ(c.info.direction, SampleDirection::kIngress);
      requests.insert(netring::testing::icmp_seq(c.frame));
    } else if (type == 0) {
      EXPECT_EQ(c.info.direction, SampleDirection::kEgress);
      replies.insert(netring::testing::icmp_seq(c.frame));
    }
  }
  EXPECT_EQ(requests.size(), static_cast<std::size_t>(kPings));
  EXPECT_EQ(replies.size(), static_cast<std::size_t>(kPings));
  auto t = s.consumer->totals();
  EXPECT_EQ(t.gaps, 0u);
  EXPECT_EQ(t.invalid, 0u);
  auto c = s.dp->counters();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->xdp_misses, 0u);
  EXPECT_GE(c->xdp_redirects, 2u * kPings);
  EXPECT_EQ(c->stages.clone_failures, 0u);
}

TEST(DatapathAfXdp, IperfCompletesWithSamplesFromEveryCpuInOrder) {
  Pipeline s;
  ASSERT_TRUE(s.start(100, 2));
  auto server = s.host.spawn("iperf3 -s -1 -B 10.86.0.1 -p 5302 >/dev/null 2>&1");
  bool done = false;
  std::string out;
  for (int attempt = 0; attempt < 50 && !done; ++attempt) {
    // A byte count, not a duration: the sample count must not depend on
    // how fast the machine (or an emulated one) is.
    auto r = s.pod.run("iperf3 -c 10.86.0.1 -p 5302 -n 2G");
    done = r.ok();
    out = r.output;
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(done) << out;
  s.consumer->drain();
  auto samples = s.consumer->samples();
  ASSERT_GT(samples.size(), 100u);
  std::set<std::uint32_t> cpus;
  for (const auto& c : samples) {
    EXPECT_EQ(c.info.ifindex, static_cast<std::uint32_t>(s.hooked));
    EXPECT_LE(c.frame.size(), 128u);
    cpus.insert(c.info.cpu);
  }
  auto t = s.consumer->totals();
  auto c = s.dp->counters();
  ASSERT_TRUE(c);
  // Each CPU's samples go to one queue, so none arrive out of order.
  EXPECT_EQ(t.reordered, 0u);
  // Lost samples are all accounted for: socket ring drops, XDP misses or
  // clone failures. At this rate there should be none.
  EXPECT_EQ(t.gaps, t.capture.kernel_drops + c->xdp_misses + c->stages.clone_failures);
  EXPECT_EQ(c->stages.mirror_errors, 0u);
}

// A snap length whose sample (header + snap bytes) is longer than a
// 2048-byte UMEM frame holds: the frames are sized from it, every sample
// arrives cut at the snap length.
TEST(DatapathAfXdp, LongSnapLengthSamplesArriveWhole) {
  constexpr std::uint32_t kSnap = netring::datapath::kMaxAfXdpSnapLen;  // the longest it carries
  Pipeline s(9000);
  ASSERT_TRUE(s.start(1, 1, kSnap));
  ASSERT_EQ(s.dp->rung(), Rung::kAfXdpMirror);
  constexpr int kPings = 100;
  // 4000-byte echo requests: 4042-byte frames, cut to the snap length.
  auto out = s.pod.run_ok("ping -q -c " + std::to_string(kPings) + " -s 4000 -i 0.01 -W 2 10.86.0.1");
  EXPECT_NE(out.find(" 0% packet loss"), std::string::npos) << out;
  s.consumer->drain();
  std::set<int> requests;
  for (const auto& c : s.consumer->samples()) {
    if (netring::testing::icmp_type(c.frame) != 8) continue;
    EXPECT_EQ(c.frame.size(), kSnap);
    EXPECT_TRUE(c.info.truncated);
    EXPECT_EQ(c.info.orig_len, 4042u);
    requests.insert(netring::testing::icmp_seq(c.frame));
  }
  EXPECT_EQ(requests.size(), static_cast<std::size_t>(kPings));
  auto t = s.consumer->totals();
  EXPECT_EQ(t.capture.kernel_drops, 0u);
  EXPECT_EQ(t.gaps, 0u);
}

// Beyond what one AF_XDP frame carries, the ladder takes TPACKET_V3 and
// says why.
TEST(DatapathAfXdp, SnapLengthBeyondOneFrameTakesTheTpacketRung) {
  Pipeline s;
  ASSERT_TRUE(s.start(1, 1, netring::datapath::kMaxAfXdpSnapLen + 1));
  EXPECT_EQ(s.dp->rung(), Rung::kAfPacketMirror);
  ASSERT_FALSE(s.dp->ladder().empty());
  EXPECT_FALSE(s.dp->ladder().front().taken);
  EXPECT_NE(s.dp->ladder().front().reason.find("snap length 3465"), std::string::npos) << s.dp->ladder().front().reason;
  auto out = s.pod.run_ok("ping -q -c 20 -i 0.01 -W 2 10.86.0.1");
  s.consumer->drain();
  std::size_t requests = 0;
  for (const auto& c : s.consumer->samples())
    if (netring::testing::icmp_type(c.frame) == 8) ++requests;
  EXPECT_EQ(requests, 20u);
}

}  // namespace
