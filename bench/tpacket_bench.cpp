// netring's TPACKET_V3 RX ring against libpcap on the same traffic. libpcap
// 1.10 uses TPACKET_V3 only when immediate mode is OFF (immediate mode
// switches it to TPACKET_V2, one fixed-size frame per packet), so the
// reference is pcap_create/pcap_activate with a 1 ms timeout, which becomes
// the V3 block retire timeout, the same netring is given; libpcap in
// immediate mode (V2) is shown as a second, informational row. Traffic:
// a raw AF_PACKET sendmmsg generator in one namespace, the receiver on the
// peer veth end in another. Runs alternate (netring, libpcap, netring, ...)
// so drift in machine load hits both alike; the table shows the median of
// the rounds with min and max.
//
// Two scenarios:
//  stream: the generator runs for --seconds while the reader keeps up.
//    Measured: packets delivered, wall time of the send window, CPU time of
//    the reading thread (CLOCK_THREAD_CPUTIME_ID: the user-space reader and
//    its syscalls; the kernel's copy into the ring runs in the sender's
//    softirq and is the same for both), kernel drops. At this VM's rates a
//    block closes on the 1 ms timer long before it fills, so both readers
//    mostly pay the same poll()/wake-up per block.
//  stream-50: the same stream with a 50 ms retire timeout for both readers
//    (netring's library default; tcpdump gives libpcap 1000 ms): blocks now
//    close because they are full, so a wake-up is paid per ~4000 packets
//    instead of per ~600 and the figure is the libraries' own per-packet
//    cost plus an amortised wake-up. Same alternation, same traffic.
//  drain: the ring is filled while nobody reads (blocks full, no timer),
//    then read empty in one go: the CPU per packet of the reading library
//    itself, without wake-ups.
//
// Both readers get the same ring geometry: libpcap sizes its own (blocks
// and frames of its maximum snap length), so the bench reads what the
// kernel reports for libpcap's socket (sock_diag, PACKET_DIAG_RX_RING),
// gives netring the same block size, block count and frame size, checks
// netring's socket the same way (the retire timeout too), and prints both.
//
//   tpacket_bench [--rounds N] [--seconds S] [--json FILE]
#include <linux/netlink.h>
#include <linux/packet_diag.h>
#include <linux/sock_diag.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "pkg/packet/socket.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/packet_builder.hpp"
#include "tests/testing/raw_sender.hpp"

namespace {

using netring::testing::Netns;
using netring::testing::PacketBuilder;
using netring::testing::RawSender;
using netring::testing::VethPair;

// 16 MiB for both; the block geometry is libpcap's (see ring_of()).
constexpr std::uint32_t kBufferBytes = 16U << 20;

struct RingGeometry {
  std::uint32_t block_size = 0, block_nr = 0, frame_size = 0, frame_nr = 0, retire_ms = 0;
  bool operator==(const RingGeometry&) const = default;
  std::string str() const {
    return std::to_string(block_nr) + " blocks x " + std::to_string(block_size >> 10) + " KiB (frames " +
           std::to_string(frame_nr) + " x " + std::to_string(frame_size) + " B), retire " + std::to_string(retire_ms) +
           " ms";
  }
};

// The RX ring the kernel reports for the packet socket `fd`, which lives in
// namespace `ns` (sock_diag answers for the namespace of the asking socket).
std::optional<RingGeometry> ring_of(const Netns& ns, int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::nullopt;
  return ns.within([&]() -> std::optional<RingGeometry> {
    const int nl = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0) return std::nullopt;
    struct {
      nlmsghdr nh;
      packet_diag_req req;
    } msg{};
    msg.nh.nlmsg_len = sizeof(msg);
    msg.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    msg.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    msg.req.sdiag_family = AF_PACKET;
    msg.req.pdiag_show = PACKET_SHOW_RING_CFG;
    std::optional<RingGeometry> out;
    if (::send(nl, &msg, sizeof(msg), 0) == static_cast<ssize_t>(sizeof(msg))) {
      alignas(nlmsghdr) char buf[32768];
      bool done = false;
      while (!done) {
        const ssize_t got = ::recv(nl, buf, sizeof(buf), 0);
        if (got <= 0) break;
        auto left = static_cast<unsigned>(got);
        for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
          if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
            done = true;
            break;
          }
          const auto* m = static_cast<const packet_diag_msg*>(NLMSG_DATA(h));
          if (m->pdiag_ino != st.st_ino) continue;
          int len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
          for (auto* a = reinterpret_cast<const nlattr*>(reinterpret_cast<const char*>(m) + NLMSG_ALIGN(sizeof(*m)));
               len >= static_cast<int>(sizeof(nlattr)) && a->nla_len >= sizeof(nlattr) && a->nla_len <= len;
               len -= NLA_ALIGN(a->nla_len),
                     a = reinterpret_cast<const nlattr*>(reinterpret_cast<const char*>(a) + NLA_ALIGN(a->nla_len))) {
            if (a->nla_type != PACKET_DIAG_RX_RING) continue;
            packet_diag_ring r{};
            std::memcpy(&r, reinterpret_cast<const char*>(a) + NLA_HDRLEN, sizeof(r));
            out = RingGeometry{r.pdr_block_size, r.pdr_block_nr, r.pdr_frame_size, r.pdr_frame_nr, r.pdr_retire_tmo};
          }
        }
      }
    }
    ::close(nl);
    return out;
  });
}

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Run {
  double pps = 0;           // delivered packets per wall second of the send window
  double cpu_per_mpkt = 0;  // receiver CPU seconds per million packets
  double pkts_per_cpu_s = 0;
  std::uint64_t packets = 0;
  std::uint64_t drops = 0;
  std::uint64_t wakeups = 0;  // poll() calls that slept and returned ready
  double cpu_s = 0;
};

// Per packet work identical for both readers, so the data is really read.
struct Sink {
  std::uint64_t packets = 0, bytes = 0, check = 0;
  void take(const unsigned char* d, std::uint32_t len) {
    ++packets;
    bytes += len;
    check += d[len - 1];
  }
};

// Keeps the sender busy for `seconds`; returns frames sent.
std::uint64_t generate(RawSender& tx, const std::vector<std::vector<std::uint8_t>>& frames, double seconds) {
  std::uint64_t sent = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) sent += tx.send_batch(frames);
  return sent;
}

// Reads until `stop` is set and the ring stays empty for 100 ms.
Run read_netring(netring::packet::PacketSocket& s, std::atomic<bool>& stop, std::atomic<bool>& ready) {
  Sink sink;
  netring::packet::RingPacket batch[256];
  std::uint64_t wakeups = 0;
  const double c0 = thread_cpu_s();
  ready = true;
  int idle = 0;
  while (!stop || idle < 1) {
    const std::size_t n = s.ring().next_batch(batch);
    if (n == 0) {
      pollfd p{s.fd(), POLLIN, 0};
      const int ready_fds = ::poll(&p, 1, 100);
      if (ready_fds == 0 && stop) ++idle;
      if (ready_fds > 0) ++wakeups;
      continue;
    }
    for (std::size_t i = 0; i < n; ++i)
      sink.take(reinterpret_cast<const unsigned char*>(batch[i].data), batch[i].snaplen);
    s.ring().release();
  }
  Run r;
  r.packets = sink.packets;
  r.wakeups = wakeups;
  const double cpu = thread_cpu_s() - c0;
  r.cpu_s = cpu;
  r.cpu_per_mpkt = sink.packets ? cpu / (static_cast<double>(sink.packets) / 1e6) : 0;
  r.pkts_per_cpu_s = cpu > 0 ? static_cast<double>(sink.packets) / cpu : 0;
  auto st = s.stats();
  r.drops = st ? st->drops : 0;
  return r;
}

void pcap_cb(u_char* user, const pcap_pkthdr* h, const u_char* bytes) {
  reinterpret_cast<Sink*>(user)->take(bytes, h->caplen);
}

Run read_pcap(pcap_t* p, std::atomic<bool>& stop, std::atomic<bool>& ready) {
  Sink sink;
  std::uint64_t wakeups = 0;
  const double c0 = thread_cpu_s();
  ready = true;
  int idle = 0;
  const int fd = pcap_get_selectable_fd(p);
  while (!stop || idle < 1) {
    const int n = pcap_dispatch(p, -1, pcap_cb, reinterpret_cast<u_char*>(&sink));
    if (n < 0) break;
    if (n == 0) {
      pollfd pf{fd, POLLIN, 0};
      const int ready_fds = ::poll(&pf, 1, 100);
      if (ready_fds == 0 && stop) ++idle;
      if (ready_fds > 0) ++wakeups;
    }
  }
  Run r;
  r.packets = sink.packets;
  r.wakeups = wakeups;
  const double cpu = thread_cpu_s() - c0;
  r.cpu_s = cpu;
  r.cpu_per_mpkt = sink.packets ? cpu / (static_cast<double>(sink.packets) / 1e6) : 0;
  r.pkts_per_cpu_s = cpu > 0 ? static_cast<double>(sink.packets) / cpu : 0;
  pcap_stat ps{};
  if (pcap_stats(p, &ps) == 0) r.drops = ps.ps_drop;
  return r;
}

template <class Reader>
Run measure(Reader reader, RawSender& tx, const std::vector<std::vector<std::uint8_t>>& frames, double seconds) {
  std::atomic<bool> stop{false}, ready{false};
  Run r;
  std::thread t([&] { r = reader(stop, ready); });
  while (!ready) std::this_thread::yield();
  const auto t0 = std::chrono::steady_clock::now();
  generate(tx, frames, seconds);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stop = true;
  t.join();
  r.pps = static_cast<double>(r.packets) / wall;
  return r;
}

constexpr std::uint32_t kDrainTimeoutMs = 200;

// Fills the idle ring with `count` frames, lets the last block retire, then
// times `drain` (returns packets read) on this thread; `cycles` times.
template <class DrainFn>
Run measure_drain(DrainFn drain, RawSender& tx, const std::vector<std::vector<std::uint8_t>>& frames,
                  std::uint64_t count, int cycles) {
  Run r;
  double cpu = 0;
  for (int c = 0; c < cycles; ++c) {
    for (std::uint64_t sent = 0; sent < count;) sent += tx.send_batch(frames);
    std::this_thread::sleep_for(std::chrono::milliseconds(kDrainTimeoutMs + 100));
    const double c0 = thread_cpu_s();
    r.packets += drain();
    cpu += thread_cpu_s() - c0;
  }
  r.cpu_per_mpkt = r.packets ? cpu / (static_cast<double>(r.packets) / 1e6) : 0;
  r.pkts_per_cpu_s = cpu > 0 ? static_cast<double>(r.packets) / cpu : 0;
  return r;
}

std::uint64_t drain_netring(netring::packet::PacketSocket& s) {
  Sink sink;
  netring::packet::RingPacket batch[256];
  std::size_t n;
  while ((n = s.ring().next_batch(batch)) > 0) {
    for (std::size_t i = 0; i < n; ++i)
      sink.take(reinterpret_cast<const unsigned char*>(batch[i].data), batch[i].snaplen);
    s.ring().release();
  }
  return sink.packets;
}

std::uint64_t drain_pcap(pcap_t* p) {
  Sink sink;
  while (pcap_dispatch(p, -1, pcap_cb, reinterpret_cast<u_char*>(&sink)) > 0) {
  }
  return sink.packets;
}

pcap_t* open_pcap(const Netns& ns, const std::string& ifname, bool immediate, int timeout_ms = 1) {
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = ns.within([&] {
    pcap_t* h = pcap_create(ifname.c_str(), err);
    if (h == nullptr) {
      std::fprintf(stderr, "pcap_create: %s\n", err);
      return h;
    }
    if (immediate) pcap_set_immediate_mode(h, 1);
    pcap_set_timeout(h, timeout_ms);
    pcap_set_buffer_size(h, static_cast<int>(kBufferBytes));
    pcap_set_snaplen(h, 262144);
    if (pcap_activate(h) < 0) {
      std::fprintf(stderr, "pcap_activate: %s\n", pcap_geterr(h));
      pcap_close(h);
      return static_cast<pcap_t*>(nullptr);
    }
    return h;
  });
  if (p != nullptr) pcap_setnonblock(p, 1, err);
  return p;
}

struct Summary {
  double med, min, max;
};
Summary summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5;
  double seconds = 1.0;
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc)
      rounds = std::max(1, std::atoi(argv[++i]));
    else if (a == "--seconds" && i + 1 < argc)
      seconds = std::atof(argv[++i]);
    else if (a == "--json" && i + 1 < argc)
      json_path = argv[++i];
    else {
      std::fprintf(stderr, "usage: %s [--rounds N] [--seconds S] [--json FILE]\n", argv[0]);
      return 2;
    }
  }

  Netns gen("bgen"), cap("bcap");
  gen.run("sysctl -qw net.ipv6.conf.all.disable_ipv6=1");
  cap.run("sysctl -qw net.ipv6.conf.all.disable_ipv6=1");
  VethPair v(gen, cap);
  RawSender tx = gen.within([&] { return RawSender(v.name_a()); });
  std::vector<std::vector<std::uint8_t>> frames;
  for (std::uint16_t f = 0; f < 64; ++f)
    frames.push_back(PacketBuilder().eth().ipv4("10.90.0.1", "10.90.0.2").udp(1000 + f, 9).payload(18).build());

  // libpcap's geometry, as the kernel reports it, becomes netring's.
  RingGeometry lib;
  {
    pcap_t* p = open_pcap(cap, v.name_b(), false);
    if (p == nullptr) return 1;
    auto g = ring_of(cap, pcap_fileno(p));
    pcap_close(p);
    if (!g) {
      std::fprintf(stderr,
                   "tpacket_bench: the kernel reports no RX ring for libpcap's socket (sock_diag for "
                   "AF_PACKET, CONFIG_PACKET_DIAG): cannot give both readers the same geometry\n");
      return 1;
    }
    lib = *g;
  }
  auto open_netring = [&](std::uint32_t retire_ms) {
    return cap.within([&] {
      auto s = netring::packet::PacketSocket::create(
          netring::packet::SocketOptions{.interface = v.name_b(),
                                         .ring = {.block_size = lib.block_size,
                                                  .block_count = lib.block_nr,
                                                  .frame_size = lib.frame_size,
                                                  .retire_timeout_ms = retire_ms}});
      if (!s) {
        std::fprintf(stderr, "netring: %s\n", s.error().message().c_str());
        std::exit(1);
      }
      if (auto st = s->start(); !st) {
        std::fprintf(stderr, "netring: %s\n", st.error().message().c_str());
        std::exit(1);
      }
      return std::move(*s);
    });
  };
  // 40k frames of 64 bytes take ~6 MiB of either ring: no drops while idle
  // once blocks close because they are full, hence the long block timeout
  // (both readers), which also retires the last block before the drain.
  constexpr std::uint64_t kDrainFrames = 40000;
  constexpr int kDrainCycles = 4;

  constexpr std::uint32_t kLongRetireMs = 50;
  // Each scenario's pair of sockets, checked once: same blocks, same timeout.
  bool geometry_ok = true;
  auto check_pair = [&](const char* scenario, int netring_fd, pcap_t* p) {
    auto n = ring_of(cap, netring_fd), l = ring_of(cap, pcap_fileno(p));
    const bool same = n && l && *n == *l;
    std::printf("ring geometry (%s): netring %s, libpcap %s%s\n", scenario, n ? n->str().c_str() : "?",
                l ? l->str().c_str() : "?", same ? "" : "  <-- DIFFERENT");
    geometry_ok = geometry_ok && same;
  };
  std::vector<Run> nr, pc, pi, dnr, dpc, nrl, pcl;
  for (int round = 0; round < rounds; ++round) {
    if (round == 0) {
      for (std::uint32_t ms : {1U, kLongRetireMs, kDrainTimeoutMs}) {
        auto sock = open_netring(ms);
        pcap_t* p = open_pcap(cap, v.name_b(), false, static_cast<int>(ms));
        if (p == nullptr) return 1;
        check_pair(ms == 1 ? "stream" : ms == kLongRetireMs ? "stream-50" : "drain", sock.fd(), p);
        pcap_close(p);
      }
      if (!geometry_ok) {
        std::fprintf(stderr, "tpacket_bench: the two readers' rings differ; the comparison would not be fair\n");
        return 1;
      }
      std::printf("\n");
    }
    {
      auto sock = open_netring(1);
      nr.push_back(
          measure([&](auto& stop, auto& ready) { return read_netring(sock, stop, ready); }, tx, frames, seconds));
    }
    {
      pcap_t* p = open_pcap(cap, v.name_b(), false);
      if (p == nullptr) return 1;
      pc.push_back(measure([&](auto& stop, auto& ready) { return read_pcap(p, stop, ready); }, tx, frames, seconds));
      pcap_close(p);
    }
    {
      pcap_t* p = open_pcap(cap, v.name_b(), true);
      if (p == nullptr) return 1;
      pi.push_back(measure([&](auto& stop, auto& ready) { return read_pcap(p, stop, ready); }, tx, frames, seconds));
      pcap_close(p);
    }
    {
      auto sock = open_netring(kLongRetireMs);
      nrl.push_back(
          measure([&](auto& stop, auto& ready) { return read_netring(sock, stop, ready); }, tx, frames, seconds));
    }
    {
      pcap_t* p = open_pcap(cap, v.name_b(), false, static_cast<int>(kLongRetireMs));
      if (p == nullptr) return 1;
      pcl.push_back(measure([&](auto& stop, auto& ready) { return read_pcap(p, stop, ready); }, tx, frames, seconds));
      pcap_close(p);
    }
    {
      auto sock = open_netring(kDrainTimeoutMs);
      Run r = measure_drain([&] { return drain_netring(sock); }, tx, frames, kDrainFrames, kDrainCycles);
      auto st = sock.stats();
      r.drops = st ? st->drops : 0;
      dnr.push_back(r);
    }
    {
      pcap_t* p = open_pcap(cap, v.name_b(), false, kDrainTimeoutMs);
      if (p == nullptr) return 1;
      Run r = measure_drain([&] { return drain_pcap(p); }, tx, frames, kDrainFrames, kDrainCycles);
      pcap_stat ps{};
      if (pcap_stats(p, &ps) == 0) r.drops = ps.ps_drop;
      dpc.push_back(r);
      pcap_close(p);
    }
  }

  auto col = [](const std::vector<Run>& rs, double Run::*f) {
    std::vector<double> v;
    for (const auto& r : rs) v.push_back(r.*f);
    return summarize(v);
  };
  auto sum_drops = [](const std::vector<Run>& rs) {
    std::uint64_t d = 0, p = 0;
    for (const auto& r : rs) d += r.drops, p += r.packets;
    return std::pair(d, p);
  };
  const Summary nr_pps = col(nr, &Run::pps), pc_pps = col(pc, &Run::pps);
  const Summary nr_cpu = col(nr, &Run::cpu_per_mpkt), pc_cpu = col(pc, &Run::cpu_per_mpkt);
  const Summary nr_eff = col(nr, &Run::pkts_per_cpu_s), pc_eff = col(pc, &Run::pkts_per_cpu_s);
  const auto [nr_drops, nr_pk] = sum_drops(nr);
  const auto [pc_drops, pc_pk] = sum_drops(pc);
  const auto [pi_drops, pi_pk] = sum_drops(pi);
  const Summary pi_pps = col(pi, &Run::pps), pi_cpu = col(pi, &Run::cpu_per_mpkt),
                pi_eff = col(pi, &Run::pkts_per_cpu_s);

  std::printf("stream: TPACKET_V3 RX, 64-byte UDP through a veth, %d alternating rounds of %.1f s, median [min..max]\n",
              rounds, seconds);
  std::printf("%-12s %26s %30s %30s %12s\n", "reader", "packets/s", "CPU-s per Mpkt", "packets per CPU-s", "drops");
  auto row = [](const char* name, Summary pps, Summary cpu, Summary eff, std::uint64_t drops, std::uint64_t pk) {
    std::printf("%-12s %9.0f [%7.0f..%7.0f] %9.4f [%7.4f..%7.4f] %9.0f [%8.0f..%8.0f] %5llu/%llu\n", name, pps.med,
                pps.min, pps.max, cpu.med, cpu.min, cpu.max, eff.med, eff.min, eff.max,
                static_cast<unsigned long long>(drops), static_cast<unsigned long long>(pk));
  };
  row("netring", nr_pps, nr_cpu, nr_eff, nr_drops, nr_pk);
  row("libpcap V3", pc_pps, pc_cpu, pc_eff, pc_drops, pc_pk);
  row("libpcap imm", pi_pps, pi_cpu, pi_eff, pi_drops, pi_pk);
  const double ratio = pc_eff.med > 0 ? nr_eff.med / pc_eff.med : 0;
  std::printf("ratio netring/libpcap V3: packets per CPU-second %.2fx, packets/s %.2fx (goal >= 1.2x per CPU-second)\n",
              ratio, pc_pps.med > 0 ? nr_pps.med / pc_pps.med : 0);
  std::printf("(libpcap imm = immediate mode, which libpcap serves with TPACKET_V2; informational)\n\n");

  const Summary nrl_pps = col(nrl, &Run::pps), pcl_pps = col(pcl, &Run::pps);
  const Summary nrl_cpu = col(nrl, &Run::cpu_per_mpkt), pcl_cpu = col(pcl, &Run::cpu_per_mpkt);
  const Summary nrl_eff = col(nrl, &Run::pkts_per_cpu_s), pcl_eff = col(pcl, &Run::pkts_per_cpu_s);
  const auto [nrl_drops, nrl_pk] = sum_drops(nrl);
  const auto [pcl_drops, pcl_pk] = sum_drops(pcl);
  std::printf("stream-50: the same stream, %u ms block retire timeout for both readers\n", kLongRetireMs);
  std::printf("%-12s %26s %30s %30s %12s\n", "reader", "packets/s", "CPU-s per Mpkt", "packets per CPU-s", "drops");
  row("netring", nrl_pps, nrl_cpu, nrl_eff, nrl_drops, nrl_pk);
  row("libpcap V3", pcl_pps, pcl_cpu, pcl_eff, pcl_drops, pcl_pk);
  const double lratio = pcl_eff.med > 0 ? nrl_eff.med / pcl_eff.med : 0;
  std::printf("ratio netring/libpcap V3 (stream-50): packets per CPU-second %.2fx, packets/s %.2fx\n\n", lratio,
              pcl_pps.med > 0 ? nrl_pps.med / pcl_pps.med : 0);

  const Summary dnr_cpu = col(dnr, &Run::cpu_per_mpkt), dpc_cpu = col(dpc, &Run::cpu_per_mpkt);
  const Summary dnr_eff = col(dnr, &Run::pkts_per_cpu_s), dpc_eff = col(dpc, &Run::pkts_per_cpu_s);
  const auto [dnr_drops, dnr_pk] = sum_drops(dnr);
  const auto [dpc_drops, dpc_pk] = sum_drops(dpc);
  std::printf("drain: %d x %llu frames filled while idle, then read in one go; median [min..max]\n", kDrainCycles,
              static_cast<unsigned long long>(kDrainFrames));
  std::printf("%-12s %30s %30s %12s\n", "reader", "CPU-s per Mpkt", "packets per CPU-s", "drops");
  auto drow = [](const char* name, Summary cpu, Summary eff, std::uint64_t drops, std::uint64_t pk) {
    std::printf("%-12s %9.4f [%7.4f..%7.4f] %9.0f [%8.0f..%8.0f] %5llu/%llu\n", name, cpu.med, cpu.min, cpu.max,
                eff.med, eff.min, eff.max, static_cast<unsigned long long>(drops), static_cast<unsigned long long>(pk));
  };
  drow("netring", dnr_cpu, dnr_eff, dnr_drops, dnr_pk);
  drow("libpcap V3", dpc_cpu, dpc_eff, dpc_drops, dpc_pk);
  const double dratio = dpc_eff.med > 0 ? dnr_eff.med / dpc_eff.med : 0;
  std::printf("ratio netring/libpcap V3 (drain): packets per CPU-second %.2fx\n", dratio);

  // Where the stream's CPU goes. A V3 reader sleeps in poll() until the
  // kernel retires a block (on the tp_retire_blk_tov timer at these rates),
  // so its CPU per packet is (wake-up + packets_per_wakeup x per-packet) /
  // packets_per_wakeup. The per-packet part is the drain figure; the rest,
  // per wake-up, is the poll()/schedule/cold-ring cost both readers pay. The
  // stream ratio cannot exceed what it would be with a free per-packet walk.
  auto per_wakeup = [](const std::vector<Run>& rs) {
    std::vector<double> pk, us;
    for (const auto& r : rs) {
      if (r.wakeups == 0) continue;
      pk.push_back(static_cast<double>(r.packets) / static_cast<double>(r.wakeups));
      us.push_back(r.cpu_s * 1e6 / static_cast<double>(r.wakeups));
    }
    if (pk.empty()) return std::pair(0.0, 0.0);
    return std::pair(summarize(pk).med, summarize(us).med);
  };
  const auto [nr_ppw, nr_usw] = per_wakeup(nr);
  const auto [pc_ppw, pc_usw] = per_wakeup(pc);
  const double nr_fixed = nr_usw - nr_ppw * dnr_cpu.med;  // CPU-s per Mpkt == us per packet
  const double pc_fixed = pc_usw - pc_ppw * dpc_cpu.med;
  std::printf("\nstream wake-ups: netring %.0f packets and %.1f us CPU per wake-up (%.1f us of it not per-packet),\n",
              nr_ppw, nr_usw, nr_fixed);
  std::printf("                 libpcap %.0f packets and %.1f us CPU per wake-up (%.1f us of it not per-packet)\n",
              pc_ppw, pc_usw, pc_fixed);
  const double bound = nr_fixed > 0 && pc_ppw > 0 ? (pc_usw / pc_ppw) / (nr_fixed / nr_ppw) : 0;
  std::printf("stream ratio if netring's per-packet walk cost nothing: %.2fx\n", bound);

  if (!json_path.empty()) {
    auto js = [](Summary s) { return nlohmann::json{{"median", s.med}, {"min", s.min}, {"max", s.max}}; };
    nlohmann::json j = {
        {"rounds", rounds},
        {"ring", {{"block_size", lib.block_size}, {"block_nr", lib.block_nr}, {"frame_size", lib.frame_size}}},
        {"seconds", seconds},
        {"netring",
         {{"pps", js(nr_pps)},
          {"cpu_s_per_mpkt", js(nr_cpu)},
          {"pkts_per_cpu_s", js(nr_eff)},
          {"drops", nr_drops},
          {"packets", nr_pk}}},
        {"libpcap",
         {{"pps", js(pc_pps)},
          {"cpu_s_per_mpkt", js(pc_cpu)},
          {"pkts_per_cpu_s", js(pc_eff)},
          {"drops", pc_drops},
          {"packets", pc_pk}}},
        {"libpcap_immediate_v2",
         {{"pps", js(pi_pps)},
          {"cpu_s_per_mpkt", js(pi_cpu)},
          {"pkts_per_cpu_s", js(pi_eff)},
          {"drops", pi_drops},
          {"packets", pi_pk}}},
        {"ratio_pkts_per_cpu_s", ratio},
        {"stream_long",
         {{"retire_ms", kLongRetireMs},
          {"netring",
           {{"pps", js(nrl_pps)},
            {"cpu_s_per_mpkt", js(nrl_cpu)},
            {"pkts_per_cpu_s", js(nrl_eff)},
            {"drops", nrl_drops},
            {"packets", nrl_pk}}},
          {"libpcap",
           {{"pps", js(pcl_pps)},
            {"cpu_s_per_mpkt", js(pcl_cpu)},
            {"pkts_per_cpu_s", js(pcl_eff)},
            {"drops", pcl_drops},
            {"packets", pcl_pk}}},
          {"ratio_pkts_per_cpu_s", lratio}}},
        {"wakeups",
         {{"netring", {{"packets_per_wakeup", nr_ppw}, {"cpu_us_per_wakeup", nr_usw}, {"fixed_us", nr_fixed}}},
          {"libpcap", {{"packets_per_wakeup", pc_ppw}, {"cpu_us_per_wakeup", pc_usw}, {"fixed_us", pc_fixed}}},
          {"ratio_bound_free_walk", bound}}},
        {"drain",
         {{"netring",
           {{"cpu_s_per_mpkt", js(dnr_cpu)},
            {"pkts_per_cpu_s", js(dnr_eff)},
            {"drops", dnr_drops},
            {"packets", dnr_pk}}},
          {"libpcap",
           {{"cpu_s_per_mpkt", js(dpc_cpu)},
            {"pkts_per_cpu_s", js(dpc_eff)},
            {"drops", dpc_drops},
            {"packets", dpc_pk}}},
          {"ratio_pkts_per_cpu_s", dratio}}},
    };
    std::ofstream(json_path) << j.dump(2) << "\n";
  }
  return 0;
}
