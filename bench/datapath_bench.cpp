// Pod-to-pod iperf3 TCP throughput through hooked host-side veths, sampler
// at rates 1, 100, 1000 and 1000000 (hooks, almost no samples) with a
// capture consumer draining the mirror over AF_XDP, and at 1, 100, 1000
// over the TPACKET_V3 mirror rung, against the same pods unhooked. Runs
// alternate (every configuration once per round, the order rotated by one
// each round); the median of each is printed with its ratio to unhooked,
// and, per sampled configuration, samples delivered per second and samples
// lost.
//
//   datapath_bench [rounds=5] [seconds=2] [snap_len=128] [--json FILE]
//
// Each rung's consumer drains its Datapath::open_sources() (AF_XDP sockets
// behind the XDP redirect program, or a TPACKET_V3 ring) on one worker
// thread: the stream API a capture worker uses; samples are decoded, not
// parsed.
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

#include <unistd.h>

#include "pkg/datapath/datapath.hpp"
#include "pkg/datapath/sample.hpp"
#include "tests/testing/netns.hpp"

namespace {

using netring::datapath::Datapath;
using netring::datapath::Role;
using netring::datapath::Rung;
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

// Busy CPU time of the whole machine (every CPU: iperf3, the softirqs that
// carry its packets, the sampler, the consumer), in seconds, from /proc/stat.
// Steal and idle are not counted. Throughput on this kind of VM moves by
// +-10 % from run to run; CPU seconds per GB moved is a second view of what
// the hooks cost, less tied to how fast the VM happened to run (noisy too:
// a few percent).
double busy_cpu_seconds() {
  std::ifstream f("/proc/stat");
  std::string cpu;
  unsigned long long user = 0, nice = 0, sys = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
  f >> cpu >> user >> nice >> sys >> idle >> iowait >> irq >> softirq;
  return static_cast<double>(user + nice + sys + irq + softirq) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

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

  // Two data paths in the host namespace, one per mirror rung, each with its
  // own mirror link and consumer; a configuration hooks the pods' veths
  // through one of them (or neither). The TPACKET rung's socket filter
  // truncates, so its mirror program leaves clones whole (mirror.bpf.c).
  struct Rig {
    Rung rung;
    const char* tag;
    std::unique_ptr<Datapath> dp;
    std::unique_ptr<Consumer> consumer;
  };
  std::vector<Rig> rigs;
  for (Rung rung : {Rung::kAfXdpMirror, Rung::kAfPacketMirror}) {
    netring::datapath::DatapathOptions o;
    o.highest_rung = rung;
    if (rung == Rung::kAfPacketMirror) o.mirror = {.near_name = "nr-mirror2", .far_name = "nr-mirror3"};
    if (argc > 3) o.programs.snap_len = static_cast<std::uint32_t>(std::atoi(argv[3]));
    Rig rig{rung, rung == Rung::kAfXdpMirror ? "afxdp" : "tpacket", nullptr, nullptr};
    host.within([&] {
      auto d = Datapath::create(o);
      if (!d) {
        std::fprintf(stderr, "Datapath::create: %s\n", d.error().message().c_str());
        return;
      }
      rig.dp = std::move(d).value();
      auto streams = rig.dp->open_sources();
      if (!streams) {
        std::fprintf(stderr, "open_sources: %s\n", streams.error().message().c_str());
        return;
      }
      rig.consumer = std::make_unique<Consumer>(std::move(streams).value());
    });
    if (!rig.dp || !rig.consumer) return 1;
    if (rig.dp->rung() != rung) {
      std::fprintf(stderr, "wanted rung %s, got %s\n", netring::datapath::to_string(rung),
                   netring::datapath::to_string(rig.dp->rung()));
      return 1;
    }
    std::printf("%-8s rung: %s, snap %u\n", rig.tag, netring::datapath::to_string(rig.dp->rung()),
                rig.dp->programs()->options().snap_len);
    rigs.push_back(std::move(rig));
  }

  auto server = b.spawn("iperf3 -s -B 10.90.2.2 -p 5401 >/dev/null 2>&1");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  const int ia = la.ifindex_b(), ib = lb.ifindex_b();
  // rate 0 = unhooked. 1:1000000 samples almost nothing: the cost of the
  // hooks themselves (programs on both veths, counters), apart from sampling.
  constexpr std::uint32_t kHookOnly = 1000000;
  struct Config {
    std::size_t rig;
    std::uint32_t rate;
    std::string name() const {
      return rate == 0 ? "unhooked" : std::string(rig ? "tpacket " : "") + "1:" + std::to_string(rate);
    }
  };
  const std::vector<Config> configs{{0, 0}, {0, 1}, {0, 100}, {0, 1000}, {0, kHookOnly}, {1, 1}, {1, 100}, {1, 1000}};
  std::map<std::string, std::vector<double>> gbps, samples_per_s, cpu_per_gb;
  std::map<std::string, std::uint64_t> lost, delivered, clone_fail;
  for (int r = 0; r < rounds; ++r) {
    // Rotate the order each round so no configuration always runs first
    // (or always right after another) on a machine whose load drifts.
    for (std::size_t k = 0; k < configs.size(); ++k) {
      const Config& cf = configs[(k + static_cast<std::size_t>(r)) % configs.size()];
      const std::string name = cf.name();
      Rig& rig = rigs[cf.rig];
      host.within([&] {
        for (auto& other : rigs) {
          (void)other.dp->heartbeat();
          if (&other != &rig || cf.rate == 0) {
            (void)other.dp->unhook(ia);
            (void)other.dp->unhook(ib);
          }
        }
        if (cf.rate != 0) {
          (void)rig.dp->hook(ia, cf.rate, Role::kPod);
          (void)rig.dp->hook(ib, cf.rate, Role::kPod);
        }
      });
      auto before = rig.dp->counters();  // maps: no namespace needed
      rig.consumer->take();
      const double cpu0 = busy_cpu_seconds();
      auto res = a.run("iperf3 -c 10.90.2.2 -p 5401 -J -t " + std::to_string(seconds));
      const double cpu_s = busy_cpu_seconds() - cpu0;
      auto t = rig.consumer->take();
      auto after = rig.dp->counters();
      double bps = 0, bytes = 0;
      try {
        const auto sum = nlohmann::json::parse(res.output)["end"]["sum_received"];
        bps = sum["bits_per_second"].get<double>();
        bytes = sum["bytes"].get<double>();
      } catch (...) {
        std::fprintf(stderr, "iperf3 failed: %s\n", res.output.c_str());
        return 1;
      }
      gbps[name].push_back(bps / 1e9);
      cpu_per_gb[name].push_back(bytes > 0 ? cpu_s / (bytes / 1e9) : 0.0);
      if (cf.rate != 0) {
        samples_per_s[name].push_back(static_cast<double>(t.samples) / seconds);
        delivered[name] += t.samples;
        lost[name] += t.gaps;  // every loss stage shows as a gap (drops: ring full, part of it)
        if (before && after) clone_fail[name] += after->stages.clone_failures - before->stages.clone_failures;
      }
      std::printf("round %d %-13s %.2f Gbit/s  %.3f CPU s/GB  samples %llu gaps %llu drops %llu\n", r + 1, name.c_str(),
                  bps / 1e9, cpu_per_gb[name].back(), static_cast<unsigned long long>(t.samples),
                  static_cast<unsigned long long>(t.gaps), static_cast<unsigned long long>(t.drops));
      std::fflush(stdout);
    }
  }
  const double base = median(gbps["unhooked"]);
  const double base_cpu = median(cpu_per_gb["unhooked"]);
  nlohmann::json out = {
      {"rounds", rounds}, {"seconds", seconds}, {"rung", netring::datapath::to_string(rigs[0].dp->rung())}};
  std::printf("\n%-14s %12s %8s %10s %9s %16s %12s %12s %8s\n", "config", "Gbit/s(med)", "ratio", "CPU s/GB",
              "CPU ratio", "samples/s(med)", "delivered", "lost", "clonefail");
  for (const Config& cf : configs) {
    const std::string name = cf.name();
    const double m = median(gbps[name]);
    const double c = median(cpu_per_gb[name]);
    std::printf("%-14s %12.2f %8.3f %10.3f %9.3f %16.0f %12llu %12llu %8llu\n", name.c_str(), m,
                base > 0 ? m / base : 0.0, c, base_cpu > 0 ? c / base_cpu : 0.0,
                cf.rate ? median(samples_per_s[name]) : 0.0, static_cast<unsigned long long>(delivered[name]),
                static_cast<unsigned long long>(lost[name]), static_cast<unsigned long long>(clone_fail[name]));
    out["configs"].push_back({{"rate", cf.rate},
                              {"rung", netring::datapath::to_string(rigs[cf.rig].rung)},
                              {"backend", rigs[cf.rig].tag},
                              {"gbps", gbps[name]},
                              {"gbps_median", m},
                              {"ratio", base > 0 ? m / base : 0.0},
                              {"cpu_s_per_gb", cpu_per_gb[name]},
                              {"cpu_s_per_gb_median", c},
                              {"cpu_ratio", base_cpu > 0 ? c / base_cpu : 0.0},
                              {"samples_per_s_median", cf.rate ? median(samples_per_s[name]) : 0.0},
                              {"delivered", delivered[name]},
                              {"lost", lost[name]},
                              {"clone_failures", clone_fail[name]}});
  }
  if (!json_path.empty()) std::ofstream(json_path) << out.dump(2) << "\n";
  host.within([&] {
    for (auto& rig : rigs) {
      rig.consumer.reset();
      rig.dp.reset();
    }
  });
  return 0;
}
