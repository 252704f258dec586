// IPFIX export CPU per 1,000 flows/s: what the exporter thread spends to turn
// flows into IPFIX records and send them to a collector on loopback.
//
//   netring    FlowExporter::round(): ended flows from its queue, each with
//              its ledger lookup, the record with every field group (both
//              pods' names included), messages of --ipfix-max-message-size
//              (1400), one UDP send each
//   floor      the same number of datagrams of the same size, encoded once
//              beforehand, only sent: the kernel's share, which no encoder
//              can avoid
//
// Both send to a UDP socket on loopback that a reader thread drains. CPU is
// the exporting thread's (CLOCK_THREAD_CPUTIME_ID); "CPU per 1,000 flows/s"
// is the fraction of a core (ms of CPU per second) that exporting 1,000
// flows every second costs. Rounds alternate netring and floor; medians of
// the rounds, min..max shown, and the ratio.
//
//   ipfix_bench [rounds=11] [flows=20000] [--json FILE]
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/export/flow_exporter.hpp"
#include "pkg/common/fd.hpp"

using namespace netring;
using namespace netring::agent;

namespace {

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Stat {
  double median, min, max;
};
Stat stat(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

std::vector<FlowView> make_flows(std::size_t n, std::uint64_t round) {
  std::vector<FlowView> flows(n);
  for (std::size_t i = 0; i < n; ++i) {
    FlowView& f = flows[i];
    f.id = round * 1'000'000 + i + 1;
    f.src = IpAddress::v4(htonl(0x0a000000u | static_cast<std::uint32_t>(i & 0xffff)));
    f.dst = IpAddress::v4(htonl(0x0a010000u | static_cast<std::uint32_t>((i * 7) & 0xffff)));
    f.src_port = static_cast<std::uint16_t>(30000 + i % 30000);
    f.dst_port = 443;
    f.protocol = IPPROTO_TCP;
    f.direction = FlowDirection::kEgress;
    f.packets = 1234.5;
    f.bytes = 1'800'000.25;
    f.bytes_stderr = 40'000;
    f.samples = 12;
    f.tcp_flags = 0x1b;
    f.first_seen_ns = 1'700'000'000'000'000'000ull;
    f.last_seen_ns = f.first_seen_ns + 5'000'000'000ull;
    f.ingress_ifindex = 1;
    f.end_reason = FlowEndReason::kIdleTimeout;
    f.src_id =
        Identity{"node-a", "shop", "frontend", "Deployment", "frontend-7d9f8c6b5-" + std::to_string(i % 500), ""};
    f.dst_id = Identity{"node-b", "data", "postgres", "StatefulSet", "postgres-" + std::to_string(i % 7), "postgres"};
  }
  return flows;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 11;
  std::size_t nflows = 20000;
  std::string json_path;
  int pos = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else if (pos++ == 0) {
      rounds = std::max(5, std::atoi(argv[i]));
    } else {
      nflows = std::max<std::size_t>(1000, std::strtoull(argv[i], nullptr, 10));
    }
  }

  // The collector: a loopback socket drained by a reader thread.
  UniqueFd rx(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  int big = 8 << 20;
  ::setsockopt(rx.get(), SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(rx.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(rx.get(), reinterpret_cast<sockaddr*>(&a), &len);
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> received{0};
  std::thread reader([&] {
    std::vector<std::uint8_t> buf(65536);
    while (!done.load()) {
      pollfd p{rx.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) != 1) continue;
      while (::recv(rx.get(), buf.data(), buf.size(), MSG_DONTWAIT) > 0) ++received;
    }
  });

  exporter::ExportOptions o;
  o.host = "127.0.0.1";
  o.port = ntohs(a.sin_port);
  o.queue_size = nflows;
  SnapshotStore store;
  exporter::FlowExporter ex(o, store);
  const AgentSnapshot empty;

  // Warm-up, and the datagrams the floor sends: the messages netring made.
  std::vector<std::vector<std::uint8_t>> datagrams;
  {
    ex.enqueue_ended(make_flows(nflows, 0));
    ex.round(empty, false, exporter::FlowExporter::Clock::now());
    const auto st = ex.status();
    const std::size_t per = st.bytes_sent / std::max<std::uint64_t>(1, st.messages_sent);
    datagrams.assign(st.messages_sent, std::vector<std::uint8_t>(per, 0xa5));
  }
  UniqueFd tx(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ::connect(tx.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);

  std::vector<double> netring_ms, floor_ms;  // CPU ms per 1,000 flows
  const std::uint64_t messages_before = ex.status().messages_sent;
  for (int r = 1; r <= rounds; ++r) {
    auto flows = make_flows(nflows, static_cast<std::uint64_t>(r));  // outside the timed part
    ex.enqueue_ended(flows);
    double t0 = thread_cpu_s();
    ex.round(empty, false, exporter::FlowExporter::Clock::now());
    double t1 = thread_cpu_s();
    netring_ms.push_back((t1 - t0) * 1e3 / (static_cast<double>(nflows) / 1000));

    t0 = thread_cpu_s();
    for (const auto& d : datagrams) (void)::send(tx.get(), d.data(), d.size(), MSG_DONTWAIT);
    t1 = thread_cpu_s();
    floor_ms.push_back((t1 - t0) * 1e3 / (static_cast<double>(nflows) / 1000));
  }
  const auto st = ex.status();
  done = true;
  reader.join();

  const Stat n = stat(netring_ms), f = stat(floor_ms);
  const double msgs_per_round = static_cast<double>(st.messages_sent - messages_before) / rounds;
  std::printf("ipfix_bench: %d rounds of %zu ended flows, netring and floor alternate; CPU of the exporting thread\n",
              rounds, nflows);
  std::printf("  %.0f messages a round (%zu B each), %llu send errors\n", msgs_per_round, datagrams.front().size(),
              static_cast<unsigned long long>(st.send_errors));
  std::printf("  %-10s %8.3f ms CPU per 1,000 flows (min %.3f .. max %.3f)  = %.2f%% of a core at 1,000 flows/s\n",
              "netring", n.median, n.min, n.max, n.median / 10);
  std::printf("  %-10s %8.3f ms CPU per 1,000 flows (min %.3f .. max %.3f)\n", "floor", f.median, f.min, f.max);
  std::printf("  netring / floor: %.2fx\n", n.median / f.median);
  if (!json_path.empty()) {
    nlohmann::json j = {{"rounds", rounds},
                        {"flows", nflows},
                        {"message_bytes", datagrams.front().size()},
                        {"messages_per_round", msgs_per_round},
                        {"netring_ms_per_1000_flows", netring_ms},
                        {"floor_ms_per_1000_flows", floor_ms},
                        {"ratio", n.median / f.median}};
    std::ofstream(json_path) << j.dump(2) << "\n";
  }
  return 0;
}
