// Pod-to-pod iperf3 TCP throughput through hooked host-side veths, sampler
// at rates 1, 100, 1000 and 1000000 (hooks, almost no samples) with a
// capture consumer draining the mirror,
// against the same pods unhooked. Runs alternate (unhooked, 1, 100, 1000,
// rotated by one each round); the median of each is printed with its ratio
// to unhooked,
// and, per sampled rate, samples delivered per second and samples lost.
//
//   datapath_bench [rounds=5] [seconds=2] [snap_len=128] [--json FILE]
//
// The consumer drains Datapath::open_sources(): AF_XDP sockets on the
// mirror's far end behind the XDP redirect program, one worker thread
// (the stream API a capture worker uses; samples are decoded, not parsed).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "pkg/datapath/datapath.hpp"
#include "pkg/datapath/sample.hpp"
#include "tests/testing/netns.hpp"

namespace {

using netring::datapath::Datapath;
using netring::datapath::Role;
using netring::testing::Netns;
using netring::testing::VethOptions;
using netring::testing::VethPair;

// Drains the data path's sample streams (AF_XDP on the mirror) on one
// thread, the way a capture worker would, counting samples and gaps.
class Consumer {
 public:
  explicit Consumer(std::vector<std::unique_ptr<netring::datapath::SampleStream>> streams)
      : streams_(std::move(streams)) {
    thread_ = std::thread([this] { loop(); });
  }
  ~Consumer() {
    stop_ = true;
    thread_.join();
  }
  struct Totals {
    std::uint64_t samples = 0, gaps = 0, drops = 0, invalid = 0;
  };
  // Totals since the previous call (let the queues drain first).
  Totals take() {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    Totals now{};
    for (auto& st : streams_) {
      auto s = st->stats();
      now.samples += s.samples;
      now.gaps += s.gaps;
      now.drops += s.capture.kernel_drops;
      now.invalid += s.invalid;
    }
    Totals d{now.samples - last_.samples, now.gaps - last_.gaps, now.drops - last_.drops, now.invalid - last_.invalid};
    last_ = now;
    return d;
  }

 private:
  void loop() {
    std::array<netring::datapath::Sample, netring::datapath::SampleStream::kBatch> batch{};
    while (!stop_) {
      bool any = false;
      for (auto& st : streams_) {
        auto n = st->poll(batch);
        if (n && *n > 0) any = true;
        st->release();
      }
      if (!any) (void)streams_[0]->wait(50);
    }
  }
  std::vector<std::unique_ptr<netring::datapath::SampleStream>> streams_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  Totals last_{};
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? 0 : (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path;
  std::vector<char*> pos{argv[0]};  // positional arguments with --json FILE taken out
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--json" && i + 1 < argc)
      json_path = argv[++i];
    else
      pos.push_back(argv[i]);
  }
  argc = static_cast<int>(pos.size());
  argv = pos.data();
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  const int seconds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 2;

  Netns host("bh"), a("ba"), b("bb");
  VethPair la(a, host, VethOptions{.addr_a = "10.90.1.2/24", .addr_b = "10.90.1.1/24"});
  VethPair lb(b, host, VethOptions{.addr_a = "10.90.2.2/24", .addr_b = "10.90.2.1/24"});
  host.run_ok("sysctl -qw net.ipv4.ip_forward=1");
  a.run_ok("ip route add default via 10.90.1.1");
  b.run_ok("ip route add default via 10.90.2.1");

  netring::datapath::DatapathOptions o;
  if (argc > 3) o.programs.snap_len = static_cast<std::uint32_t>(std::atoi(argv[3]));
  std::unique_ptr<Datapath> dp;
  std::unique_ptr<Consumer> consumer;
  host.within([&] {
    auto d = Datapath::create(o);
    if (!d) {
      std::fprintf(stderr, "Datapath::create: %s\n", d.error().message().c_str());
      return;
    }
    dp = std::move(d).value();
    auto streams = dp->open_sources();
    if (!streams) {
      std::fprintf(stderr, "open_sources: %s\n", streams.error().message().c_str());
      return;
    }
    consumer = std::make_unique<Consumer>(std::move(streams).value());
  });
  if (!dp || !consumer) return 1;
  std::printf("rung: %s, snap %u\n", netring::datapath::to_string(dp->rung()), dp->programs()->options().snap_len);

  auto server = b.spawn("iperf3 -s -B 10.90.2.2 -p 5401 >/dev/null 2>&1");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  const int ia = la.ifindex_b(), ib = lb.ifindex_b();
  // 0 = unhooked. 1:1000000 samples almost nothing: the cost of the hooks
  // themselves (programs on both veths, counters), apart from sampling.
  constexpr std::uint32_t kHookOnly = 1000000;
  const std::vector<std::uint32_t> configs{0, 1, 100, 1000, kHookOnly};
  std::map<std::uint32_t, std::vector<double>> gbps, samples_per_s;
  std::map<std::uint32_t, std::uint64_t> lost, delivered, clone_fail;
  for (int r = 0; r < rounds; ++r) {
    // Rotate the order each round so no configuration always runs first
    // (or always right after another) on a machine whose load drifts.
    for (std::size_t k = 0; k < configs.size(); ++k) {
      const std::uint32_t rate = configs[(k + static_cast<std::size_t>(r)) % configs.size()];
      host.within([&] {
        (void)dp->heartbeat();
        if (rate == 0) {
          (void)dp->unhook(ia);
          (void)dp->unhook(ib);
        } else {
          (void)dp->hook(ia, rate, Role::kPod);
          (void)dp->hook(ib, rate, Role::kPod);
        }
      });
      auto before = dp->counters();  // maps: no namespace needed
      consumer->take();
      auto res = a.run("iperf3 -c 10.90.2.2 -p 5401 -J -t " + std::to_string(seconds));
      auto t = consumer->take();
      auto after = dp->counters();
      double bps = 0;
      try {
        bps = nlohmann::json::parse(res.output)["end"]["sum_received"]["bits_per_second"].get<double>();
      } catch (...) {
        std::fprintf(stderr, "iperf3 failed: %s\n", res.output.c_str());
        return 1;
      }
      gbps[rate].push_back(bps / 1e9);
      if (rate != 0) {
        samples_per_s[rate].push_back(static_cast<double>(t.samples) / seconds);
        delivered[rate] += t.samples;
        lost[rate] += t.gaps;  // every loss stage shows as a gap (drops: ring full, part of it)
        if (before && after) clone_fail[rate] += after->stages.clone_failures - before->stages.clone_failures;
      }
      std::printf("round %d rate %-5s %.2f Gbit/s  samples %llu gaps %llu drops %llu\n", r + 1,
                  rate == 0 ? "off" : std::to_string(rate).c_str(), bps / 1e9,
                  static_cast<unsigned long long>(t.samples), static_cast<unsigned long long>(t.gaps),
                  static_cast<unsigned long long>(t.drops));
      std::fflush(stdout);
    }
  }
  const double base = median(gbps[0]);
  nlohmann::json out = {{"rounds", rounds}, {"seconds", seconds}, {"rung", netring::datapath::to_string(dp->rung())}};
  std::printf("\n%-9s %12s %8s %16s %12s %12s\n", "rate", "Gbit/s(med)", "ratio", "samples/s(med)", "delivered",
              "lost");
  for (std::uint32_t rate : configs) {
    const double m = median(gbps[rate]);
    std::printf("%-9s %12.2f %8.3f %16.0f %12llu %12llu\n",
                rate == 0 ? "unhooked" : ("1:" + std::to_string(rate)).c_str(), m, base > 0 ? m / base : 0.0,
                rate ? median(samples_per_s[rate]) : 0.0, static_cast<unsigned long long>(delivered[rate]),
                static_cast<unsigned long long>(lost[rate]));
    out["configs"].push_back({{"rate", rate},
                              {"gbps", gbps[rate]},
                              {"gbps_median", m},
                              {"ratio", base > 0 ? m / base : 0.0},
                              {"samples_per_s_median", rate ? median(samples_per_s[rate]) : 0.0},
                              {"delivered", delivered[rate]},
                              {"lost", lost[rate]},
                              {"clone_failures", clone_fail[rate]}});
  }
  if (!json_path.empty()) std::ofstream(json_path) << out.dump(2) << "\n";
  std::printf("clone failures: 1:1 %llu, 1:100 %llu, 1:1000 %llu\n", static_cast<unsigned long long>(clone_fail[1]),
              static_cast<unsigned long long>(clone_fail[100]), static_cast<unsigned long long>(clone_fail[1000]));
  host.within([&] {
    consumer.reset();
    dp.reset();
  });
  return 0;
}
