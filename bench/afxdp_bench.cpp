// AF_XDP: netring's sockets against a reference written with libxdp's xsk
// API, on a veth pair between two namespaces.
//
//   RX: netring's AF_XDP TX in namespace A generates (unthrottled, always
//       the same generator), the receiver under test sits in namespace B
//       behind netring's redirect program (libxdp with
//       XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD, so only the socket code
//       differs). Both receivers read each packet's sequence number.
//   TX: the sender under test writes each frame (template copy + sequence
//       number) and transmits; the rate is completed packets: both sides
//       count the descriptors they reap from the completion ring, not the
//       ones they queue.
//
// Runs alternate (A/B, then B/A) and each figure is the median of --pairs
// runs with min and max; CPU is the measuring thread's CPU time
// (CLOCK_THREAD_CPUTIME_ID, user + system, so the copy-mode kernel work done
// inside its syscalls counts). A measurement, not a test: figures depend on
// the machine and on whatever else runs on it.
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/xsk_bench_util.hpp"
#include "pkg/xdp/builder.hpp"
#include "pkg/xdp/redirect_program.hpp"
#include "tests/testing/libxdp_socket.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/xdp_traffic.hpp"

namespace {

using namespace netring;
using namespace netring::xdp;
using netring::bench::cpu_idle_total;
using netring::bench::NetringTx;
using netring::bench::now_s;
using netring::bench::retry_busy;
using netring::bench::summarize;
using netring::bench::Summary;
using netring::bench::Template;
using netring::bench::thread_cpu_s;
using netring::testing::LibxdpSocket;
using netring::testing::Netns;
using netring::testing::VethPair;

constexpr std::uint32_t kRing = 2048;
constexpr std::uint32_t kBatch = 64;
constexpr std::uint32_t kFrame = 2048;

struct Run {
  double pps = 0;
  double cpu_per_mpkt = 0;  // CPU seconds per million packets
  double rx_dropped = 0;    // XDP_STATISTICS rx_dropped + rx_ring_full over the run (RX only)
  double ring_full = 0;     // ... of which rx_ring_full: the RX ring had no room (receiver behind)
  double fill_empty = 0;    // ... of which rx_dropped: no frame in the fill ring
  double gen_pps = 0;       // generator rate during an RX run
  double gen_cpu_ns = 0;    // generator thread CPU per packet it completed (its syscalls and the softirq they run)
  double idle = 0;          // machine-wide idle fraction of all CPUs over the run (/proc/stat)
};

struct Options {
  int pairs = 9;
  double duration = 1.0;
  double warmup = 0.2;
  std::vector<std::size_t> sizes{64, 1500};
  std::string json;
  std::string only;  // run one scenario: RX, DRAIN, TX or SWEEP
  double rate = 0;   // RX generator: packets/s, 0 = unthrottled (its maximum)
  std::vector<double> rates{0.1e6, 0.2e6, 0.3e6, 0.4e6, 0.5e6, 0.6e6, 0.8e6, 1.0e6, 0};  // SWEEP, 0 = maximum
  std::uint32_t nr_ring = kRing;  // netring receiver's RX ring (fill ring 2x); the reference keeps kRing
};

volatile std::uint64_t g_sink;

// ---- the measured loops; both sides do the same work per packet ----

// Counts packets for `duration` after `warmup`; returns packets and CPU.
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
  const double c1 = thread_cpu_s();
  Run r;
  r.pps = pkts / (t1 - t0);
  r.cpu_per_mpkt = pkts ? (c1 - c0) / pkts * 1e6 : 0;
  return r;
}

// netring's receiver: for_each_packet() (single pass, frames recycled as
// it goes), or with g_span the receive() span + release() pair.
bool g_span = false;

std::uint64_t netring_rx_step(XdpSocket& s, bool block = true) {
  std::uint64_t n = 0, sum = 0;
  if (!g_span) {
    auto r = s.for_each_packet(kBatch, [&](const RxPacket& p) { sum += netring::testing::seq_of(p.data, p.len); });
    n = r ? *r : 0;
  } else {
    auto b = s.receive(kBatch);
    if (b) {
      for (const RxPacket& p : *b) sum += netring::testing::seq_of(p.data, p.len);
      n = b->size();
      s.release();
    }
  }
  if (n == 0 && block) (void)s.wait(10);
  g_sink = sum;
  return n;
}

std::uint64_t libxdp_rx_step(LibxdpSocket& s, bool block = true) {
  std::uint64_t sum = 0;
  const std::uint64_t n = netring::bench::libxdp_rx_step(s, kBatch, sum, block);
  g_sink = sum;
  return n;
}

struct LibxdpTx {
  LibxdpSocket& s;
  const Template& t;
  std::uint64_t seq = 0;
  unsigned next_frame = 0;
  unsigned outstanding = 0;
  std::uint64_t step() {
    __u32 idx = 0;
    const unsigned done = xsk_ring_cons__peek(&s.cq_, kRing, &idx);
    if (done) {
      xsk_ring_cons__release(&s.cq_, done);
      outstanding -= done;
    }
    unsigned n = 0;
    if (s.tx_frames() - outstanding >= kBatch && xsk_ring_prod__reserve(&s.tx_, kBatch, &idx) == kBatch) {
      for (n = 0; n < kBatch; ++n) {
        // Frames are used round-robin: the oldest outstanding completes first.
        const std::uint64_t addr = s.tx_frame(next_frame);
        next_frame = (next_frame + 1) % s.tx_frames();
        t.write(s.area() + addr, seq++);
        xdp_desc* d = xsk_ring_prod__tx_desc(&s.tx_, idx + n);
        d->addr = addr;
        d->len = static_cast<__u32>(t.bytes.size());
      }
      xsk_ring_prod__submit(&s.tx_, kBatch);
      outstanding += kBatch;
    }
    if (xsk_ring_prod__needs_wakeup(&s.tx_)) ::sendto(s.fd(), nullptr, 0, MSG_DONTWAIT, nullptr, 0);
    return done;
  }
};

// ---- scenarios ----

struct Bench {
  Netns a{"bench-a"}, b{"bench-b"};
  VethPair veth{a, b};
  Result<RedirectProgram> prog = b.within([&] { return RedirectProgram::attach(veth.ifindex_b()); });
  Options opt;
  std::unique_ptr<XdpSocket> gen;  // kept across RX runs; closed before the TX runs

  Result<XdpSocket> make_tx() {
    return retry_busy([&] {
      auto r = XdpSocketBuilder().interface(veth.name_a()).rx_ring(0).tx_ring(kRing).frame_size(kFrame).build();
      if (!r) errno = r.error().code();
      return r;
    });
  }

  // The generator: netring's own AF_XDP TX, unthrottled, on its own thread.
  struct Generator {
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> sent{0};
    std::thread th;
  };

  Run rx_run(bool netring, std::size_t size) {
    Run r;
    std::string err;
    std::unique_ptr<XdpSocket> ours;
    std::unique_ptr<LibxdpSocket> ref;
    int fd = -1;
    if (netring) {
      auto s = b.within([&] {
        return retry_busy([&] {
          auto r = XdpSocketBuilder().interface(veth.name_b()).rx_ring(opt.nr_ring).frame_size(kFrame).build();
          if (!r) errno = r.error().code();
          return r;
        });
      });
      if (!s) return std::fprintf(stderr, "rx socket: %s\n", s.error().message().c_str()), r;
      ours = std::make_unique<XdpSocket>(std::move(*s));
      fd = ours->fd();
    } else {
      ref = b.within(
          [&] { return retry_busy([&] { return LibxdpSocket::create(veth.name_b(), 0, kRing, 0, kFrame, &err); }); });
      if (!ref) return std::fprintf(stderr, "libxdp rx socket: %s\n", err.c_str()), r;
      fd = ref->fd();
    }
    if (auto rr = prog->register_socket(0, fd); !rr)
      return std::fprintf(stderr, "%s\n", rr.error().message().c_str()), r;

    if (!gen) {
      auto s = a.within([&] { return make_tx(); });
      if (!s) return std::fprintf(stderr, "generator: %s\n", s.error().message().c_str()), r;
      gen = std::make_unique<XdpSocket>(std::move(*s));
    }
    Template t(size);
    Generator g;
    const double rate = opt.rate;
    double gen_cpu = 0;
    g.th = std::thread([&] {
      NetringTx tx{*gen, t};
      std::uint64_t n = 0;
      const double c0 = thread_cpu_s();
      // Throttled: one batch per kBatch/rate seconds, sleeping (not
      // spinning: the receiver needs the other core) until it is due; a
      // generator that fell behind does not burst to catch up.
      const double period = rate > 0 ? kBatch / rate : 0;
      double due = now_s();
      while (!g.stop.load(std::memory_order_relaxed)) {
        if (period > 0) {
          const double t = now_s();
          if (due > t) {
            const double d = due - t;
            timespec ts{static_cast<time_t>(d), static_cast<long>((d - static_cast<time_t>(d)) * 1e9)};
            ::nanosleep(&ts, nullptr);
          } else if (t - due > period) {
            due = t;
          }
          due += period;
        }
        n += tx.step();
      }
      gen_cpu = thread_cpu_s() - c0;
      g.sent = n;
    });
    const auto idle0 = cpu_idle_total();
    const double g0 = now_s();
    if (ours) {
      r = measure(opt.warmup, opt.duration, [&] { return netring_rx_step(*ours); });
    } else {
      r = measure(opt.warmup, opt.duration, [&] { return libxdp_rx_step(*ref); });
    }
    const auto idle1 = cpu_idle_total();
    g.stop = true;
    g.th.join();
    r.gen_pps = g.sent.load() / (now_s() - g0);
    r.gen_cpu_ns = g.sent.load() ? gen_cpu / g.sent.load() * 1e9 : 0;
    r.idle = idle1.second > idle0.second ? (idle1.first - idle0.first) / (idle1.second - idle0.second) : 0;
    (void)prog->unregister_socket(0);
    xdp_statistics st{};
    socklen_t len = sizeof(st);
    if (::getsockopt(fd, SOL_XDP, XDP_STATISTICS, &st, &len) == 0) {
      r.rx_dropped = double(st.rx_dropped + st.rx_ring_full);
      r.ring_full = double(st.rx_ring_full);
      r.fill_empty = double(st.rx_dropped);
    }
    return r;
  }

  // User-space cost alone: the generator fills the RX ring while the
  // receiver waits, then only the drain of the full ring is timed (no
  // syscalls, no waiting: ring protocol, descriptor handling, fill-ring
  // recycling and reading each packet's sequence number).
  Run drain_run(bool netring, std::size_t size) {
    Run r;
    std::string err;
    std::unique_ptr<XdpSocket> ours;
    std::unique_ptr<LibxdpSocket> ref;
    int fd = -1;
    if (netring) {
      auto s = b.within([&] {
        return retry_busy([&] {
          auto r = XdpSocketBuilder().interface(veth.name_b()).rx_ring(kRing).frame_size(kFrame).build();
          if (!r) errno = r.error().code();
          return r;
        });
      });
      if (!s) return std::fprintf(stderr, "rx socket: %s\n", s.error().message().c_str()), r;
      ours = std::make_unique<XdpSocket>(std::move(*s));
      fd = ours->fd();
    } else {
      ref = b.within(
          [&] { return retry_busy([&] { return LibxdpSocket::create(veth.name_b(), 0, kRing, 0, kFrame, &err); }); });
      if (!ref) return std::fprintf(stderr, "libxdp rx socket: %s\n", err.c_str()), r;
      fd = ref->fd();
    }
    if (auto rr = prog->register_socket(0, fd); !rr)
      return std::fprintf(stderr, "%s\n", rr.error().message().c_str()), r;
    if (!gen) {
      auto s = a.within([&] { return make_tx(); });
      if (!s) return std::fprintf(stderr, "generator: %s\n", s.error().message().c_str()), r;
      gen = std::make_unique<XdpSocket>(std::move(*s));
    }
    Template t(size);
    NetringTx tx{*gen, t};
    // The ring is filled from one CPU and drained from another, the same
    // for both libraries: with copy mode on veth the peer's NAPI poll (and
    // so the copy into the UMEM) runs on the sending CPU, so as in RX the
    // receiver finds the packets in another core's cache; left to the
    // scheduler, the drain would run on either core at random and the
    // figure would swing with it.
    const netring::bench::CpuPair cpus;
    constexpr std::uint32_t kPerCycle = kRing - 128;  // room for the veth's own IPv6 chatter
    double busy = 0, cpu = 0;
    std::uint64_t pkts = 0;
    const double end = now_s() + opt.duration * 2;
    auto drain_untimed = [&] {
      while ((ours ? netring_rx_step(*ours, false) : libxdp_rx_step(*ref, false)) != 0) {
      }
    };
    while (now_s() < end) {
      drain_untimed();  // stragglers of the last cycle: start from an empty ring
      cpus.move_to(0);
      std::uint64_t queued = 0;
      while (queued < kPerCycle) {
        auto frames = gen->tx_reserve(static_cast<std::uint32_t>(std::min<std::uint64_t>(kBatch, kPerCycle - queued)));
        for (auto& f : frames) {
          t.write(f.data, tx.seq++);
          f.len = static_cast<std::uint32_t>(t.bytes.size());
        }
        (void)gen->tx_submit(static_cast<std::uint32_t>(frames.size()));
        queued += frames.size();
      }
      while (gen->tx_outstanding() != 0) (void)gen->flush();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // let the peer's NAPI deliver everything
      cpus.move_to(1);
      const double c0 = thread_cpu_s(), t0 = now_s();
      std::uint64_t got = 0;
      for (;;) {
        const std::uint64_t n = ours ? netring_rx_step(*ours, false) : libxdp_rx_step(*ref, false);
        if (n == 0) break;
        got += n;
      }
      busy += now_s() - t0;
      cpu += thread_cpu_s() - c0;
      pkts += got;
    }
    (void)prog->unregister_socket(0);
    r.pps = busy > 0 ? pkts / busy : 0;
    r.cpu_per_mpkt = pkts ? cpu / pkts * 1e6 : 0;
    xdp_statistics st{};
    socklen_t len = sizeof(st);
    if (::getsockopt(fd, SOL_XDP, XDP_STATISTICS, &st, &len) == 0)
      r.rx_dropped = double(st.rx_dropped + st.rx_ring_full);
    return r;
  }

  Run tx_run(bool netring, std::size_t size) {
    Run r;
    std::string err;
    Template t(size);
    if (netring) {
      auto s = a.within([&] { return make_tx(); });
      if (!s) return std::fprintf(stderr, "tx socket: %s\n", s.error().message().c_str()), r;
      NetringTx tx{*s, t};
      r = measure(opt.warmup, opt.duration, [&] { return tx.step(); });
    } else {
      auto s = a.within(
          [&] { return retry_busy([&] { return LibxdpSocket::create(veth.name_a(), 0, 0, kRing, kFrame, &err); }); });
      if (!s) return std::fprintf(stderr, "libxdp tx socket: %s\n", err.c_str()), r;
      LibxdpTx tx{*s, t};
      r = measure(opt.warmup, opt.duration, [&] { return tx.step(); });
    }
    return r;
  }
};

// Drops against offered rate: the same receivers as RX, the generator
// throttled to each rate in turn (0 = unthrottled), netring and libxdp
// alternating. Prints, per rate, the drops of every run and both sides' CPU
// per packet, then the highest rate at which every run of a receiver
// dropped nothing.
int sweep(Bench& bench, const Options& opt) {
  const char* names[2] = {"netring", "libxdp"};
  std::printf("%-10s %-8s %10s %10s %10s %24s %16s %9s %9s %6s\n", "scenario", "impl", "offered", "gen pkt/s",
              "rx pkt/s", "rx_ring_full med [max]", "fill empty med", "gen ns/p", "rx ns/p", "idle");
  for (std::size_t size : opt.sizes) {
    double best[2] = {0, 0};
    bool broken[2] = {false, false};
    for (double rate : opt.rates) {
      bench.opt.rate = rate;
      std::vector<Run> runs[2];
      for (int p = 0; p < opt.pairs; ++p)
        for (int k = 0; k < 2; ++k) {
          const int impl = (k + p) % 2;
          runs[impl].push_back(bench.rx_run(impl == 0, size));
        }
      for (int i = 0; i < 2; ++i) {
        std::vector<double> gp, rp, rf, fe, gc, rc, id;
        bool zero = true;
        for (const Run& r : runs[i]) {
          gp.push_back(r.gen_pps), rp.push_back(r.pps), rf.push_back(r.ring_full), fe.push_back(r.fill_empty);
          gc.push_back(r.gen_cpu_ns), rc.push_back(r.cpu_per_mpkt * 1e3), id.push_back(r.idle);
          zero = zero && r.rx_dropped == 0;
        }
        const Summary g = summarize(gp), x = summarize(rp), f = summarize(rf), e = summarize(fe), gcs = summarize(gc),
                      rcs = summarize(rc), l = summarize(id);
        char off[32], fbuf[48];
        if (rate > 0)
          std::snprintf(off, sizeof off, "%.3gM", rate / 1e6);
        else
          std::snprintf(off, sizeof off, "max");
        std::snprintf(fbuf, sizeof fbuf, "%.0f [%.0f]", f.med, f.max);
        std::printf("SWEEP %-4s %-8s %10s %9.3gM %9.3gM %24s %16.0f %9.0f %9.0f %5.0f%%%s\n",
                    (std::to_string(size) + "B").c_str(), names[i], off, g.med / 1e6, x.med / 1e6, fbuf, e.med, gcs.med,
                    rcs.med, l.med * 100, zero ? "  0 drops in every run" : "");
        // The highest offered rate (by the generator's measured rate) below
        // which no rate dropped anything.
        if (!zero) broken[i] = true;
        if (zero && !broken[i]) best[i] = std::max(best[i], g.med);
      }
      std::fflush(stdout);
    }
    for (int i = 0; i < 2; ++i)
      std::printf(
          "SWEEP %-4s %-8s highest generator rate with 0 drops in every run (and at every lower rate): %.3gM/s\n",
          (std::to_string(size) + "B").c_str(), names[i], best[i] / 1e6);
  }
  std::printf(
      "rx_ring_full: the RX ring had no room (receiver behind); fill empty: XDP_STATISTICS rx_dropped, no frame in\n"
      "the fill ring; gen ns/p: generator thread CPU per completed packet (copy-mode TX and, on veth, the peer's NAPI\n"
      "poll with the XDP program and the copy into the UMEM, which run in its sendto()); rx ns/p: receiver thread\n"
      "CPU per received packet; idle: machine-wide idle share of all CPUs during the run\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--pairs")
      opt.pairs = std::max(1, std::atoi(next().c_str()));
    else if (a == "--duration")
      opt.duration = std::atof(next().c_str());
    else if (a == "--only")
      opt.only = next();
    else if (a == "--json")
      opt.json = next();
    else if (a == "--rate")
      opt.rate = std::atof(next().c_str());
    else if (a == "--nr-ring")
      opt.nr_ring = static_cast<std::uint32_t>(std::atoi(next().c_str()));
    else if (a == "--rates") {
      opt.rates.clear();
      std::string s = next();
      for (std::size_t p = 0; p < s.size();) {
        std::size_t q = s.find(',', p);
        opt.rates.push_back(std::atof(s.substr(p, q - p).c_str()));
        p = q == std::string::npos ? s.size() : q + 1;
      }
    } else if (a == "--sizes") {
      opt.sizes.clear();
      std::string s = next();
      for (std::size_t p = 0; p < s.size();) {
        std::size_t q = s.find(',', p);
        opt.sizes.push_back(std::stoul(s.substr(p, q - p)));
        p = q == std::string::npos ? s.size() : q + 1;
      }
    } else {
      std::fprintf(
          stderr,
          "usage: %s [--pairs N] [--duration SECONDS] [--sizes 64,1500] [--only RX|DRAIN|TX|SWEEP] [--json FILE]\n"
          "          [--rate PPS] [--rates PPS,PPS,...] [--nr-ring N]\n"
          "  --rate     RX generator rate (default 0 = unthrottled, its maximum)\n"
          "  --rates    SWEEP: offered rates to step through (0 = maximum); default 0.1M..1.0M,0\n"
          "  --nr-ring  netring receiver's RX ring size (fill ring 2x; default %u, the reference's)\n"
          "  SWEEP      (only with --only) rx_ring_full/rx_dropped vs offered rate for both receivers, with\n"
          "             generator and receiver CPU per packet and machine idle: the highest 0-drop rate\n",
          argv[0], kRing);
      return 2;
    }
  }
  Bench bench;
  bench.opt = opt;
  if (!bench.prog) {
    std::fprintf(stderr, "redirect program: %s\n", bench.prog.error().message().c_str());
    return 1;
  }
  std::printf(
      "AF_XDP on veth between namespaces (copy mode, redirect program %s), %d A/B pairs x %.2f s, batch %u, ring %u\n",
      bench.prog->native() ? "native" : "generic", opt.pairs, opt.duration, kBatch, kRing);
  if (opt.nr_ring != kRing)
    std::printf("netring receiver: RX ring %u, fill ring %u (NOT the reference's %u/%u)\n", opt.nr_ring,
                2 * opt.nr_ring, kRing, 2 * kRing);
  if (opt.rate > 0) std::printf("RX generator throttled to %.3g packets/s\n", opt.rate);
  if (opt.only == "SWEEP") return sweep(bench, opt);
  std::printf("%-11s %-8s %28s %28s %14s %12s\n", "scenario", "impl", "packets/s med [min..max]",
              "CPU s/Mpkt med [min..max]", "rx_dropped med", "gen pkt/s");
  std::string json = "{\"bench\":\"afxdp\",\"pairs\":" + std::to_string(opt.pairs) + ",\"results\":[";
  bool first_json = true;
  for (const char* dir : {"RX", "DRAIN", "TX"}) {
    if (!opt.only.empty() && opt.only != dir) continue;
    if (std::string(dir) == "TX") bench.gen.reset();
    for (std::size_t size : opt.sizes) {
      // 0 netring (for_each_packet), 1 libxdp, 2 netring (receive span); TX has no third.
      const std::string d = dir;
      const int impls = d == "TX" ? 2 : 3;
      std::vector<Run> runs[3];
      for (int p = 0; p < opt.pairs; ++p) {
        for (int k = 0; k < impls; ++k) {
          const int impl = (k + p) % impls;  // rotate the order every round
          g_span = impl == 2;
          const bool netring = impl != 1;
          Run r = d == "RX"      ? bench.rx_run(netring, size)
                  : d == "DRAIN" ? bench.drain_run(netring, size)
                                 : bench.tx_run(netring, size);
          runs[impl].push_back(r);
        }
      }
      g_span = false;
      Summary pps[3], cpu[3], drop[3], gen[3], full[3], gcpu[3];
      for (int i = 0; i < impls; ++i) {
        std::vector<double> a, b, c, e, f, g;
        for (const Run& r : runs[i])
          a.push_back(r.pps), b.push_back(r.cpu_per_mpkt), c.push_back(r.rx_dropped), e.push_back(r.gen_pps),
              f.push_back(r.ring_full), g.push_back(r.gen_cpu_ns);
        pps[i] = summarize(a), cpu[i] = summarize(b), drop[i] = summarize(c), gen[i] = summarize(e);
        full[i] = summarize(f), gcpu[i] = summarize(g);
      }
      const std::string scen = d + " " + std::to_string(size) + "B";
      const char* names[3] = {"netring", "libxdp", "nr-span"};
      for (int i = 0; i < impls; ++i) {
        char pbuf[64], cbuf[64];
        std::snprintf(pbuf, sizeof pbuf, "%.3gM [%.3g..%.3g]", pps[i].med / 1e6, pps[i].min / 1e6, pps[i].max / 1e6);
        std::snprintf(cbuf, sizeof cbuf, "%.3f [%.3f..%.3f]", cpu[i].med, cpu[i].min, cpu[i].max);
        if (d == "RX") {
          std::printf("%-11s %-8s %28s %28s %14.0f %11.3gM\n", scen.c_str(), names[i], pbuf, cbuf, drop[i].med,
                      gen[i].med / 1e6);
          std::vector<double> rf, fe, gc, id;
          for (const Run& r : runs[i])
            rf.push_back(r.ring_full), fe.push_back(r.fill_empty), gc.push_back(r.gen_cpu_ns), id.push_back(r.idle);
          const Summary f = summarize(rf), e = summarize(fe), g = summarize(gc), l = summarize(id);
          std::printf(
              "%-11s %-8s   rx_ring_full %.0f [%.0f..%.0f], rx_dropped (fill empty) %.0f [%.0f..%.0f]; CPU ns/pkt "
              "generator %.0f, receiver %.0f; machine idle %.0f%%\n",
              "", "", f.med, f.min, f.max, e.med, e.min, e.max, g.med, cpu[i].med * 1e3, l.med * 100);
        } else if (d == "DRAIN")
          std::printf("%-11s %-8s %28s %28s %14.0f %12s\n", scen.c_str(), names[i], pbuf, cbuf, drop[i].med, "-");
        else
          std::printf("%-11s %-8s %28s %28s %14s %12s\n", scen.c_str(), names[i], pbuf, cbuf, "-", "-");
      }
      auto ratio = [](double a, double b) { return b > 0 ? a / b : 0; };
      const double rate_ratio = ratio(pps[0].med, pps[1].med), cpu_ratio = ratio(cpu[0].med, cpu[1].med);
      std::printf("%-11s %-8s %27.3fx %27.3fx\n", scen.c_str(), "ratio", rate_ratio, cpu_ratio);
      if (impls == 3)
        std::printf("%-11s %-8s %27.3fx %27.3fx\n", scen.c_str(), "span/ref", ratio(pps[2].med, pps[1].med),
                    ratio(cpu[2].med, cpu[1].med));
      char jb[2048];
      std::snprintf(
          jb, sizeof jb,
          "%s{\"scenario\":\"%s\",\"netring_pps\":%.0f,\"netring_pps_min\":%.0f,\"netring_pps_max\":%.0f,"
          "\"libxdp_pps\":%.0f,\"libxdp_pps_min\":%.0f,\"libxdp_pps_max\":%.0f,"
          "\"netring_cpu_s_per_mpkt\":%.4f,\"libxdp_cpu_s_per_mpkt\":%.4f,\"rate_ratio\":%.4f,\"cpu_ratio\":%.4f,"
          "\"netring_cpu_min\":%.4f,\"netring_cpu_max\":%.4f,\"libxdp_cpu_min\":%.4f,\"libxdp_cpu_max\":%.4f,"
          "\"netring_rx_dropped\":%.0f,\"libxdp_rx_dropped\":%.0f,\"netring_span_pps\":%.0f,"
          "\"netring_span_cpu_s_per_mpkt\":%.4f,\"netring_rx_ring_full\":%.0f,\"libxdp_rx_ring_full\":%.0f,"
          "\"netring_gen_pps\":%.0f,\"libxdp_gen_pps\":%.0f,\"netring_gen_cpu_ns\":%.1f,\"libxdp_gen_cpu_ns\":%.1f,"
          "\"netring_rx_ring\":%u}",
          first_json ? "" : ",", scen.c_str(), pps[0].med, pps[0].min, pps[0].max, pps[1].med, pps[1].min, pps[1].max,
          cpu[0].med, cpu[1].med, rate_ratio, cpu_ratio, cpu[0].min, cpu[0].max, cpu[1].min, cpu[1].max, drop[0].med,
          drop[1].med, pps[2].med, cpu[2].med, full[0].med, full[1].med, gen[0].med, gen[1].med, gcpu[0].med,
          gcpu[1].med, opt.nr_ring);
      json += jb;
      first_json = false;
      std::fflush(stdout);
    }
  }
  json += "]}";
  if (!opt.json.empty()) {
    std::ofstream(opt.json) << json << "\n";
    std::printf("JSON written to %s\n", opt.json.c_str());
  }
  std::printf(
      "ratio = netring / libxdp (rate: higher is better for netring; CPU: lower is better); netring receives with\n"
      "for_each_packet(), nr-span with receive() + release() (span/ref = nr-span / libxdp)\n"
      "RX: unthrottled generator, receiver waits in poll() when empty; DRAIN: only the drain of a full RX ring is\n"
      "timed (user-space per-packet cost); TX: rate of completed packets (reaped from the completion ring; copy\n"
      "mode, sent by sendto() kicks)\n");
  return 0;
}
