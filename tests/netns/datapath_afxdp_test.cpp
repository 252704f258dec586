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
  Netns host{"ah"};
  Netns pod{"ap"};
  VethPair link{pod, host, VethOptions{.addr_a = "10.86.0.2/24", .addr_b = "10.86.0.1/24"}};
  const int hooked = link.ifindex_b();  // ifindex_b() asks the namespace each time
  std::unique_ptr<Datapath> dp;
  std::unique_ptr<StreamConsumer> consumer;

  bool start(std::uint32_t rate, std::uint32_t workers) {
    std::string err;
    host.within([&] {
      DatapathOptions o;
      o.workers = workers;
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
    auto r = s.pod.run("iperf3 -c 10.86.0.1 -p 5302 -n 200M");
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

}  // namespace
