// Small-packet load for bench/pod_cost.sh: IPv4/UDP frames of a fixed size
// sent as fast as netring's own AF_XDP TX (pkg/xdp) can push them out of
// one interface, round-robin over N flows (N consecutive source ports to one
// destination port), for a fixed time. Run inside the sender pod's network
// namespace on its eth0; the frames go to the peer pod through the CNI
// bridge like any pod traffic.
//
//   pod_udp_gen --ifname IF --src-mac MAC --dst-mac MAC --src-ip IP --dst-ip IP --seconds S
//               [--flows 10000] [--sport 20000] [--dport 9] [--size 64] [--batch 64] [--ring 2048]
//
// Prints "sending" once the socket is bound (so a driver can start its
// measurement window after it), then on exit one JSON line: packets
// submitted, packets completed, seconds, packets/s, TX kicks and the
// kernel's count of invalid TX descriptors. SIGTERM or SIGINT ends the run
// early (the JSON line is still printed). Exit 2 on a bad argument, 1 when
// the socket cannot be made.
#include <sys/socket.h>
#include <time.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "pkg/xdp/builder.hpp"
#include "tests/testing/packet_builder.hpp"

namespace {

using netring::testing::Mac;
using netring::testing::PacketBuilder;

std::atomic<bool> g_stop{false};
void on_signal(int) {
  g_stop.store(true, std::memory_order_relaxed);
}

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

bool parse_mac(const std::string& s, Mac& out) {
  unsigned b[6];
  char tail = 0;
  if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6) return false;
  for (int i = 0; i < 6; ++i) {
    if (b[i] > 0xff) return false;
    out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(b[i]);
  }
  return true;
}

// What differs between the flows' frames: the source port and the UDP
// checksum (offsets in an untagged IPv4 frame without options).
constexpr std::size_t kSportOff = 14 + 20;
constexpr std::size_t kCsumOff = 14 + 20 + 6;
struct FlowPatch {
  std::uint8_t sport[2];
  std::uint8_t csum[2];
};

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s --ifname IF --src-mac MAC --dst-mac MAC --src-ip IP --dst-ip IP --seconds S\n"
               "          [--flows 10000] [--sport 20000] [--dport 9] [--size 64] [--batch 64] [--ring 2048]\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string ifname, src_ip, dst_ip;
  Mac src_mac{}, dst_mac{};
  bool have_src_mac = false, have_dst_mac = false;
  double seconds = 0;
  unsigned long flows = 10000, sport = 20000, dport = 9, size = 64, batch = 64, ring = 2048;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "pod_udp_gen: %s needs a value\n", a.c_str());
      return usage(argv[0]);
    }
    const std::string v = argv[++i];
    auto num = [&](unsigned long& out, unsigned long lo, unsigned long hi) {
      char* end = nullptr;
      out = std::strtoul(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || out < lo || out > hi) {
        std::fprintf(stderr, "pod_udp_gen: %s '%s': want an integer in %lu..%lu\n", a.c_str(), v.c_str(), lo, hi);
        std::exit(2);
      }
    };
    if (a == "--ifname")
      ifname = v;
    else if (a == "--src-ip")
      src_ip = v;
    else if (a == "--dst-ip")
      dst_ip = v;
    else if (a == "--src-mac")
      have_src_mac = parse_mac(v, src_mac);
    else if (a == "--dst-mac")
      have_dst_mac = parse_mac(v, dst_mac);
    else if (a == "--seconds")
      seconds = std::atof(v.c_str());
    else if (a == "--flows")
      num(flows, 1, 65535);
    else if (a == "--sport")
      num(sport, 1, 65535);
    else if (a == "--dport")
      num(dport, 1, 65535);
    else if (a == "--size")
      num(size, 60, 1514);
    else if (a == "--batch")
      num(batch, 1, 4096);
    else if (a == "--ring")
      num(ring, 64, 65536);
    else {
      std::fprintf(stderr, "pod_udp_gen: unknown argument %s\n", a.c_str());
      return usage(argv[0]);
    }
  }
  if (ifname.empty() || src_ip.empty() || dst_ip.empty() || !(seconds > 0)) return usage(argv[0]);
  if (!have_src_mac || !have_dst_mac) {
    std::fprintf(stderr, "pod_udp_gen: --src-mac and --dst-mac want aa:bb:cc:dd:ee:ff\n");
    return 2;
  }
  if (sport + flows - 1 > 65535) {
    std::fprintf(stderr, "pod_udp_gen: --sport %lu + --flows %lu runs past port 65535\n", sport, flows);
    return 2;
  }
  if ((ring & (ring - 1)) != 0) {
    std::fprintf(stderr, "pod_udp_gen: --ring %lu is not a power of two\n", ring);
    return 2;
  }

  // One frame per flow, built whole with its checksums by the test packet
  // builder; only the bytes that differ are kept per flow.
  std::vector<std::uint8_t> frame;
  std::vector<FlowPatch> patches(flows);
  try {
    for (unsigned long f = 0; f < flows; ++f) {
      auto b = PacketBuilder()
                   .eth(src_mac, dst_mac)
                   .ipv4(src_ip, dst_ip)
                   .udp(static_cast<std::uint16_t>(sport + f), static_cast<std::uint16_t>(dport))
                   .payload(size - (14 + 20 + 8), 0)
                   .build();
      patches[f] = {{b[kSportOff], b[kSportOff + 1]}, {b[kCsumOff], b[kCsumOff + 1]}};
      if (f == 0) frame = std::move(b);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pod_udp_gen: %s (--src-ip %s, --dst-ip %s)\n", e.what(), src_ip.c_str(), dst_ip.c_str());
    return 2;
  }

  auto sock = netring::xdp::XdpSocketBuilder()
                  .interface(ifname)
                  .rx_ring(0)
                  .tx_ring(static_cast<std::uint32_t>(ring))
                  .frame_size(2048)
                  .build();
  if (!sock) {
    std::fprintf(stderr, "pod_udp_gen: AF_XDP TX socket on %s: %s\n", ifname.c_str(), sock.error().message().c_str());
    return 1;
  }
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::printf("sending\n");
  std::fflush(stdout);

  const std::size_t len = frame.size();
  const auto b32 = static_cast<std::uint32_t>(batch);
  std::uint64_t submitted = 0;
  std::size_t next = 0;
  const double t0 = now_s(), end = t0 + seconds;
  double t = t0;
  while (!g_stop.load(std::memory_order_relaxed) && (t = now_s()) < end) {
    auto frames = sock->tx_reserve(b32);
    for (auto& f : frames) {
      std::memcpy(f.data, frame.data(), len);
      std::memcpy(f.data + kSportOff, patches[next].sport, 2);
      std::memcpy(f.data + kCsumOff, patches[next].csum, 2);
      f.len = static_cast<std::uint32_t>(len);
      if (++next == flows) next = 0;
    }
    if (frames.empty()) {
      // Every frame is in flight: kick the kernel so it transmits and completes some.
      if (auto r = sock->flush(); !r) {
        std::fprintf(stderr, "pod_udp_gen: %s\n", r.error().message().c_str());
        return 1;
      }
      continue;
    }
    auto r = sock->tx_submit(static_cast<std::uint32_t>(frames.size()));
    if (!r) {
      std::fprintf(stderr, "pod_udp_gen: %s\n", r.error().message().c_str());
      return 1;
    }
    submitted += *r;
  }
  const double elapsed = t - t0;
  // Let what is queued go out, so "completed" counts every frame the kernel took.
  for (const double give_up = now_s() + 1.0; sock->tx_outstanding() != 0 && now_s() < give_up;) (void)sock->flush();
  const std::uint64_t completed = submitted - sock->tx_outstanding();
  std::uint64_t kicks = 0, invalid = 0;
  if (auto st = sock->stats(); st) kicks = st->tx_kicks, invalid = st->kernel.tx_invalid_descs;
  std::printf(
      "{\"submitted\": %llu, \"completed\": %llu, \"seconds\": %.6f, \"pps\": %.0f, \"flows\": %lu, \"size\": %zu, "
      "\"tx_kicks\": %llu, \"tx_invalid_descs\": %llu}\n",
      static_cast<unsigned long long>(submitted), static_cast<unsigned long long>(completed), elapsed,
      elapsed > 0 ? static_cast<double>(submitted) / elapsed : 0.0, flows, len, static_cast<unsigned long long>(kicks),
      static_cast<unsigned long long>(invalid));
  return 0;
}
