// Capture ports: netring's capture-port path (open_capture_port: the
// XSKMAP program counting every frame, an AF_XDP socket per queue, the
// SampleStream the agent's workers read) against a receiver written with
// libxdp's xsk API behind the same program with the same options and the
// same ring sizes, on a veth whose far end is the capture port.
//
//   RX <size>: one queue; netring's AF_XDP TX in the other namespace
//       generates (unthrottled unless --rate), the same generator for both.
//       Each run opens the port afresh with the default ring sizes
//       (kDefaultCaptureRing, fill ring the same; the libxdp receiver gets the
//       same), so rx_dropped says whether the defaults keep
//       up with the generator's highest rate.
//   DRAIN <size>: the user-space cost alone: the ring is filled while the
//       receiver waits, then only its drain is timed (informational).
//   RX2Q <size>: two queues, netring only: one UMEM shared by the two
//       sockets against one UMEM per queue (CapturePortOptions::
//       umem_per_queue), to choose the default.
//
// Runs alternate (A/B, then B/A); each figure is the median of --pairs runs
// with min and max. CPU is the receiving thread's (CLOCK_THREAD_CPUTIME_ID,
// user + system). A measurement, not a test.
#include <sched.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/xsk_bench_util.hpp"
#include "pkg/datapath/capture_port.hpp"
#include "pkg/xdp/builder.hpp"
#include "pkg/xdp/redirect_program.hpp"
#include "tests/testing/libxdp_socket.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/xdp_traffic.hpp"

namespace {

using namespace netring;
using netring::bench::NetringTx;
using netring::bench::now_s;
using netring::bench::retry_busy;
using netring::bench::summarize;
using netring::bench::Summary;
using netring::bench::Template;
using netring::bench::thread_cpu_s;
using netring::testing::LibxdpSocket;
using netring::testing::Netns;
using netring::testing::VethOptions;
using netring::testing::VethPair;

constexpr std::uint32_t kBatch = 64;
constexpr std::uint32_t kFrame = 2048;  // what open_capture_port picks for an MTU of 1500

struct Options {
  int pairs = 9;
  double duration = 1.0;
  double warmup = 0.2;
  std::vector<std::size_t> sizes{64, 1500};
  double rate = 0;   // generator packets/s, 0 = its maximum
  std::string only;  // RX, DRAIN or RX2Q
  std::string json;
};

struct Run {
  double pps = 0;
  double cpu_per_mpkt = 0;  // receiver CPU seconds per million packets
  double rx_dropped = 0;    // XDP_STATISTICS rx_dropped + rx_ring_full, all sockets
  double gen_pps = 0;
};

volatile std::uint64_t g_sink;

// The agent worker's loop without the flow table: a batch of samples, each
// one's sequence number read, released; empty: wait in poll().
std::uint64_t stream_step(datapath::SampleStream& s, std::array<datapath::Sample, kBatch>& batch, bool block = true) {
  auto n = s.poll(batch);
  if (!n || *n == 0) {
    if (block) (void)s.wait(10);
    return 0;
  }
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < *n; ++i) sum += netring::testing::seq_of(batch[i].frame.data(), batch[i].frame.size());
  s.release();
  g_sink = sum;
  return *n;
}

template <class Step>
Run measure(double warmup, double duration, Step&& step) {
  const double w_end = now_s() + warmup;
  while (now_s() < w_end) step();
  std::uint64_t pkts = 0;
  const double c0 = thread_cpu_s(), t0 = now_s();
  double t1 = t0;
  std::uint32_t iter = 0;
  for (;;) {
    pkts += step();
    if ((++iter & 63) == 0 && (t1 = now_s()) - t0 >= duration) break;
  }
  Run r;
  r.pps = pkts / (t1 - t0);
  r.cpu_per_mpkt = pkts ? (thread_cpu_s() - c0) / pkts * 1e6 : 0;
  return r;
}

struct Bench {
  explicit Bench(const Options& o, int queues) : opt(o) {
    VethOptions vo;
    vo.queues = queues;
    veth.emplace(a, b, vo);
  }
  Options opt;
  Netns a{"cpb-a"}, b{"cpb-b"};
  std::optional<VethPair> veth;
  std::vector<std::unique_ptr<xdp::XdpSocket>> gens;  // one per TX queue, kept across runs

  bool make_generators(std::uint32_t queues) {
    for (std::uint32_t q = static_cast<std::uint32_t>(gens.size()); q < queues; ++q) {
      auto s = a.within([&] {
        return retry_busy([&] {
          auto r = xdp::XdpSocketBuilder()
                       .interface(veth->name_a())
                       .queue(q)
                       .rx_ring(0)
                       .tx_ring(2048)
                       .frame_size(kFrame)
                       .build();
          if (!r) errno = r.error().code();
          return r;
        });
      });
      if (!s) return std::fprintf(stderr, "generator: %s\n", s.error().message().c_str()), false;
      gens.push_back(std::make_unique<xdp::XdpSocket>(std::move(*s)));
    }
    return true;
  }

  // Runs `receive` on this thread while the generators send on another;
  // fills gen_pps.
  template <class Receive>
  Run with_generator(std::size_t size, Receive&& receive) {
    Template t(size);
    std::atomic<bool> stop{false};
    std::uint64_t sent = 0;
    std::thread g([&] {
      std::vector<NetringTx> tx;
      for (auto& s : gens) tx.push_back(NetringTx{*s, t});
      const double period = opt.rate > 0 ? kBatch * tx.size() / opt.rate : 0;
      double due = now_s();
      while (!stop.load(std::memory_order_relaxed)) {
        if (period > 0) {
          const double now = now_s();
          if (due > now) {
            const double d = due - now;
            timespec ts{static_cast<time_t>(d), static_cast<long>((d - static_cast<time_t>(d)) * 1e9)};
            ::nanosleep(&ts, nullptr);
          } else if (now - due > period) {
            due = now;
          }
          due += period;
        }
        for (auto& x : tx) sent += x.step();
      }
    });
    const double g0 = now_s();
    Run r = receive();
    stop = true;
    g.join();
    r.gen_pps = sent / (now_s() - g0);
    return r;
  }

  // DRAIN: the generator fills the RX ring while the receiver waits, then
  // only the drain of the full ring is timed (user-space cost per packet:
  // no syscalls, no waiting). Filled from one CPU, drained from the other,
  // the same for both receivers (see afxdp_bench's DRAIN).
  template <class Drain>
  Run drain_cycles(std::size_t size, Drain&& drain_step) {
    Template t(size);
    NetringTx tx{*gens[0], t};
    const netring::bench::CpuPair cpus;
    const std::uint64_t per_cycle = datapath::kDefaultCaptureRing - 256;  // room for stragglers
    double busy = 0, cpu = 0;
    std::uint64_t pkts = 0;
    const double end = now_s() + opt.duration * 2;
    while (now_s() < end) {
      while (drain_step() != 0) {
      }
      cpus.move_to(0);
      const std::uint64_t first = tx.submitted;
      while (tx.submitted - first < per_cycle) {
        tx.batch = static_cast<std::uint32_t>(std::min<std::uint64_t>(kBatch, per_cycle - (tx.submitted - first)));
        (void)tx.step();
      }
      while (gens[0]->tx_outstanding() != 0) (void)gens[0]->flush();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the peer's NAPI delivers everything
      cpus.move_to(1);
      const double c0 = thread_cpu_s(), t0 = now_s();
      for (std::uint64_t n; (n = drain_step()) != 0;) pkts += n;
      busy += now_s() - t0;
      cpu += thread_cpu_s() - c0;
    }
    Run r;
    r.pps = busy > 0 ? pkts / busy : 0;
    r.cpu_per_mpkt = pkts ? cpu / pkts * 1e6 : 0;
    return r;
  }

  // netring: the capture port as the agent opens it.
  Run netring_run(std::size_t size, std::uint32_t queues, bool umem_per_queue, bool drain = false) {
    datapath::CapturePortOptions o;
    o.interface = veth->name_b();
    o.queues = queues;
    o.umem_per_queue = umem_per_queue;
    auto port = b.within([&] {
      return retry_busy([&] {
        auto p = datapath::open_capture_port(o);
        if (!p) errno = p.error().code();
        return p;
      });
    });
    if (!port) return std::fprintf(stderr, "capture port: %s\n", port.error().message().c_str()), Run{};
    if (port->backend != capture::Backend::kAfXdp)
      return std::fprintf(stderr, "capture port fell back: %s\n", port->reason.c_str()), Run{};
    std::array<datapath::Sample, kBatch> batch;
    Run r = drain ? drain_cycles(size, [&] { return stream_step(*port->streams[0], batch, false); })
                  : with_generator(size, [&] {
                      return measure(opt.warmup, opt.duration, [&] {
                        std::uint64_t n = 0;
                        for (auto& s : port->streams) n += stream_step(*s, batch);
                        return n;
                      });
                    });
    for (auto& s : port->streams) r.rx_dropped += static_cast<double>(s->stats().capture.kernel_drops);
    return r;
  }

  // libxdp: the same program and options, the same ring sizes and frames.
  Run libxdp_run(std::size_t size, bool drain = false) {
    xdp::RedirectOptions ro;
    ro.miss_action = xdp::MissAction::kDrop;
    ro.count_frames = true;
    auto prog =
        b.within([&] { return xdp::RedirectProgram::attach(static_cast<std::uint32_t>(veth->ifindex_b()), ro); });
    if (!prog) return std::fprintf(stderr, "program: %s\n", prog.error().message().c_str()), Run{};
    std::string err;
    auto s = b.within([&] {
      return retry_busy([&] {
        return LibxdpSocket::create(veth->name_b(), 0, datapath::kDefaultCaptureRing, 0, kFrame, &err,
                                    datapath::kDefaultCaptureRing);
      });
    });
    if (!s) return std::fprintf(stderr, "libxdp socket: %s\n", err.c_str()), Run{};
    if (auto rr = prog->register_socket(0, s->fd()); !rr)
      return std::fprintf(stderr, "%s\n", rr.error().message().c_str()), Run{};
    auto step = [&](bool block) {
      std::uint64_t sum = 0;
      const std::uint64_t n = netring::bench::libxdp_rx_step(*s, kBatch, sum, block);
      g_sink = sum;
      return n;
    };
    Run r = drain ? drain_cycles(size, [&] { return step(false); })
                  : with_generator(size, [&] { return measure(opt.warmup, opt.duration, [&] { return step(true); }); });
    xdp_statistics st{};
    socklen_t len = sizeof(st);
    if (::getsockopt(s->fd(), SOL_XDP, XDP_STATISTICS, &st, &len) == 0)
      r.rx_dropped = static_cast<double>(st.rx_dropped + st.rx_ring_full);
    return r;
  }
};

struct Series {
  std::vector<Run> runs;
  Summary pps() const {
    return pick([](const Run& r) { return r.pps; });
  }
  Summary cpu() const {
    return pick([](const Run& r) { return r.cpu_per_mpkt; });
  }
  Summary drops() const {
    return pick([](const Run& r) { return r.rx_dropped; });
  }
  Summary gen() const {
    return pick([](const Run& r) { return r.gen_pps; });
  }
  template <class F>
  Summary pick(F f) const {
    std::vector<double> v;
    for (const Run& r : runs) v.push_back(f(r));
    return summarize(v);
  }
};

std::string row(const char* scen, const char* impl, const Series& s) {
  char b[256];
  const Summary p = s.pps(), c = s.cpu(), d = s.drops(), g = s.gen();
  std::snprintf(b, sizeof b, "%-11s %-10s %8.3gM [%.3g..%.3g] %8.3f [%.3f..%.3f] %8.0f [max %.0f] %8.3gM", scen, impl,
                p.med / 1e6, p.min / 1e6, p.max / 1e6, c.med, c.min, c.max, d.med, d.max, g.med / 1e6);
  return b;
}

std::string json_of(const std::string& scen, const char* a_name, const Series& a, const char* b_name, const Series& b) {
  auto obj = [](const char* n, const Series& s) {
    const Summary p = s.pps(), c = s.cpu(), d = s.drops(), g = s.gen();
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "\"%s_pps\":%.0f,\"%s_pps_min\":%.0f,\"%s_pps_max\":%.0f,\"%s_cpu_s_per_mpkt\":%.4f,"
                  "\"%s_cpu_min\":%.4f,\"%s_cpu_max\":%.4f,\"%s_rx_dropped\":%.0f,\"%s_rx_dropped_max\":%.0f,"
                  "\"%s_gen_pps\":%.0f",
                  n, p.med, n, p.min, n, p.max, n, c.med, n, c.min, n, c.max, n, d.med, n, d.max, n, g.med);
    return std::string(buf);
  };
  const double rr = b.pps().med > 0 ? a.pps().med / b.pps().med : 0;
  const double cr = b.cpu().med > 0 ? a.cpu().med / b.cpu().med : 0;
  char tail[128];
  std::snprintf(tail, sizeof tail, ",\"rate_ratio\":%.4f,\"cpu_ratio\":%.4f,\"ring\":%u}", rr, cr,
                datapath::kDefaultCaptureRing);
  return "{\"scenario\":\"" + scen + "\"," + obj(a_name, a) + "," + obj(b_name, b) + tail;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--pairs") {
      opt.pairs = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--duration") {
      opt.duration = std::atof(next().c_str());
    } else if (a == "--rate") {
      opt.rate = std::atof(next().c_str());
    } else if (a == "--only") {
      opt.only = next();
    } else if (a == "--json") {
      opt.json = next();
    } else if (a == "--sizes") {
      opt.sizes.clear();
      std::string s = next();
      for (std::size_t p = 0; p < s.size();) {
        std::size_t q = s.find(',', p);
        opt.sizes.push_back(std::stoul(s.substr(p, q - p)));
        p = q == std::string::npos ? s.size() : q + 1;
      }
    } else {
      std::fprintf(stderr,
                   "usage: %s [--pairs N] [--duration SECONDS] [--sizes 64,1500] [--rate PPS] [--only RX|DRAIN|RX2Q] "
                   "[--json FILE]\n",
                   argv[0]);
      return 2;
    }
  }
  std::printf(
      "Capture port on veth (copy mode, native XDP, counting program), %d A/B pairs x %.2f s, batch %u, default "
      "ring %u (fill %u), frame %u; generator %s\n",
      opt.pairs, opt.duration, kBatch, datapath::kDefaultCaptureRing, datapath::kDefaultCaptureRing, kFrame,
      opt.rate > 0 ? (std::to_string(opt.rate) + " pkt/s").c_str() : "unthrottled");
  std::printf("%-11s %-10s %25s %29s %20s %9s\n", "scenario", "impl", "packets/s med [min..max]",
              "CPU s/Mpkt med [min..max]", "rx_dropped med [max]", "gen pkt/s");
  std::string json = "{\"bench\":\"capture_port\",\"pairs\":" + std::to_string(opt.pairs) + ",\"results\":[";
  bool first = true;
  // One scenario: A and B alternating (A first in even pairs), for every size.
  auto compare = [&](const char* name, int queues, const char* a_name, const char* b_name, auto&& run_a, auto&& run_b) {
    if (!opt.only.empty() && opt.only != name) return true;
    Bench bench(opt, queues);
    if (!bench.make_generators(static_cast<std::uint32_t>(queues))) return false;
    for (std::size_t size : opt.sizes) {
      Series a, b;
      for (int p = 0; p < opt.pairs; ++p)
        for (int k = 0; k < 2; ++k) {
          if ((k + p) % 2 == 0)
            a.runs.push_back(run_a(bench, size));
          else
            b.runs.push_back(run_b(bench, size));
        }
      const std::string scen = std::string(name) + " " + std::to_string(size) + "B";
      std::printf("%s\n%s\n", row(scen.c_str(), a_name, a).c_str(), row(scen.c_str(), b_name, b).c_str());
      std::printf("%-11s %-10s %24.3fx %28.3fx\n", scen.c_str(), "ratio",
                  b.pps().med > 0 ? a.pps().med / b.pps().med : 0, b.cpu().med > 0 ? a.cpu().med / b.cpu().med : 0);
      std::string b_key = b_name;
      std::replace(b_key.begin(), b_key.end(), '-', '_');
      json += (first ? "" : ",") + json_of(scen, a_name, a, b_key.c_str(), b);
      first = false;
      std::fflush(stdout);
    }
    return true;
  };
  const bool ran =
      compare(
          "RX", 1, "netring", "libxdp", [](Bench& x, std::size_t size) { return x.netring_run(size, 1, false); },
          [](Bench& x, std::size_t size) { return x.libxdp_run(size); }) &&
      compare(
          "DRAIN", 1, "netring", "libxdp",
          [](Bench& x, std::size_t size) { return x.netring_run(size, 1, false, true); },
          [](Bench& x, std::size_t size) { return x.libxdp_run(size, true); }) &&
      compare(
          "RX2Q", 2, "shared", "per-queue", [](Bench& x, std::size_t size) { return x.netring_run(size, 2, false); },
          [](Bench& x, std::size_t size) { return x.netring_run(size, 2, true); });
  if (!ran) return 1;
  json += "]}";
  if (!opt.json.empty()) {
    std::ofstream(opt.json) << json << "\n";
    std::printf("JSON written to %s\n", opt.json.c_str());
  }
  std::printf(
      "RX: ratio = netring / libxdp (rate: higher is better for netring; CPU: lower is better); rx_dropped is per\n"
      "run over the whole run, warm-up included. RX2Q: ratio = shared UMEM / one UMEM per queue.\n");
  return 0;
}
