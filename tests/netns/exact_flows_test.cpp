// Exact per-flow counts from the kernel (--exact-flows), against ground
// truth from the kernel's own accounting: conntrack's per-connection bytes,
// and the tx counters of a device that segments what it sends (wire bytes).
// And the steering that puts a flow's samples and its exact counts in one
// worker: every sample reaches the queue flow_key_hash(key) % queues names.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "pkg/datapath/datapath.hpp"
#include "pkg/flow/parser.hpp"
#include "pkg/kflow/flow_count_reader.hpp"
#include "pkg/kflow/flow_hash.hpp"
#include "tests/testing/datapath_in_netns.hpp"
#include "tests/testing/netns.hpp"

namespace {

using netring::datapath::Datapath;
using netring::datapath::DatapathOptions;
using netring::datapath::ExactFlows;
using netring::datapath::Role;
using netring::datapath::Rung;
using netring::kflow::KernelFlow;
using netring::testing::destroy_datapath;
using netring::testing::make_datapath;
using netring::testing::Netns;
using netring::testing::VethOptions;
using netring::testing::VethPair;

DatapathOptions options(ExactFlows e, Rung rung = Rung::kAfPacketMirror, std::uint32_t workers = 1) {
  DatapathOptions o;
  o.highest_rung = rung;
  o.workers = workers;
  o.programs.exact_flows = e;
  o.programs.heartbeat_timeout_ns = 600'000'000'000ULL;
  return o;
}

std::vector<KernelFlow> drain_all(const Datapath& dp) {
  const auto* p = dp.programs();
  netring::kflow::FlowCountReader r(p->flow_maps_fd(), p->flow_map_fd(0), p->flow_map_fd(1));
  std::vector<KernelFlow> out;
  auto n = r.drain(out);
  EXPECT_TRUE(n) << n.error().message();
  return out;
}

// Until something listens on TCP `port` in `ns`: a client that raced the
// server would leave a refused connection's SYN and RST in the counts.
void wait_listening(const Netns& ns, int port) {
  for (int i = 0; i < 100; ++i) {
    if (ns.run("ss -Hltn sport = :" + std::to_string(port)).output.find("LISTEN") != std::string::npos) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL() << "nothing listens on " << port;
}

// The iperf3 client, retried until the server listens.
void iperf(const Netns& client, const std::string& args) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (client.run("iperf3 " + args).ok()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL() << "iperf3 " << args << " never completed";
}

netring::flow::Address v4(const char* dotted) {
  std::uint8_t b[4];
  std::sscanf(dotted, "%hhu.%hhu.%hhu.%hhu", &b[0], &b[1], &b[2], &b[3]);
  return netring::flow::ipv4_address(b);
}

struct Totals {
  std::uint64_t packets = 0, skbs = 0, bytes = 0, wire_bytes = 0;
};

Totals sum(const std::vector<KernelFlow>& flows, const char* src, const char* dst, std::uint8_t proto) {
  Totals t;
  for (const auto& f : flows)
    if (f.key.src == v4(src) && f.key.dst == v4(dst) && f.key.protocol == proto) {
      t.packets += f.counts.packets;
      t.skbs += f.counts.skbs;
      t.bytes += f.counts.bytes;
      t.wire_bytes += f.counts.wire_bytes;
    }
  return t;
}

// conntrack -L with accounting: orig and reply packets/bytes summed over the
// entries of `proto` to `dport`.
struct CtTotals {
  std::uint64_t orig_packets = 0, orig_bytes = 0, reply_packets = 0, reply_bytes = 0;
};
CtTotals conntrack_totals(const Netns& ns, const std::string& proto, int dport) {
  const std::string out = ns.run_ok("conntrack -L -p " + proto + " --dport " + std::to_string(dport) + " 2>/dev/null");
  CtTotals t;
  const std::regex counts(R"(packets=(\d+) bytes=(\d+))");
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    int i = 0;
    for (std::sregex_iterator it(line.begin(), line.end(), counts), e; it != e; ++it, ++i) {
      const std::uint64_t p = std::stoull((*it)[1]), b = std::stoull((*it)[2]);
      (i == 0 ? t.orig_packets : t.reply_packets) += p;
      (i == 0 ? t.orig_bytes : t.reply_bytes) += b;
    }
  }
  return t;
}

// Both directions of iperf3 TCP (data one way, ACKs the other) counted at one
// hooked veth: the kernel's exact bytes per direction equal conntrack's, which
// counts the same skbs at L3 (a GSO skb is one packet of its whole length).
TEST(ExactFlows, TcpBytesEqualConntrackInBothDirections) {
  Netns host("xh"), pod("xp");
  VethPair link(pod, host, VethOptions{.addr_a = "10.81.0.2/24", .addr_b = "10.81.0.1/24"});
  host.run_ok("sysctl -qw net.netfilter.nf_conntrack_acct=1");
  // conntrack tracks a namespace's connections only once a rule needs it.
  host.run_ok("iptables -A INPUT -m conntrack --ctstate NEW,ESTABLISHED,RELATED -j ACCEPT");
  auto dp = make_datapath(host, options(ExactFlows::kAll));
  ASSERT_TRUE(dp);
  ASSERT_TRUE(host.within([&] { return dp->hook(link.ifindex_b(), 0, Role::kPod); }));
  auto server = host.spawn("iperf3 -s -1 -B 10.81.0.1 -p 5311");
  wait_listening(host, 5311);
  iperf(pod, "-c 10.81.0.1 -p 5311 -t 2");
  server.wait();
  auto flows = drain_all(*dp);
  const Totals up = sum(flows, "10.81.0.2", "10.81.0.1", 6), down = sum(flows, "10.81.0.1", "10.81.0.2", 6);
  const CtTotals ct = conntrack_totals(host, "tcp", 5311);
  ASSERT_GT(ct.orig_bytes, 100'000'000u) << "iperf3 moved too little to tell";
  EXPECT_EQ(up.bytes, ct.orig_bytes);
  EXPECT_EQ(down.bytes, ct.reply_bytes);
  // conntrack counts skbs, a GSO skb as one; the flow map counts both.
  EXPECT_EQ(up.skbs, ct.orig_packets);
  EXPECT_EQ(down.skbs, ct.reply_packets);
  EXPECT_GT(up.packets, ct.orig_packets) << "no GSO: the test would not tell skbs from segments";
  auto c = dp->counters();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->stages.flow_map_full, 0u);
  EXPECT_EQ(c->stages.flow_malformed, 0u);
  EXPECT_EQ(c->stages.flow_no_map, 0u);
  destroy_datapath(host, dp);
}

// Wire bytes (19.5): pod A sends TSO super-packets to pod B through a router
// whose veth to B segments in software (TSO and GSO off). That veth's tx
// counters count each segment with its own headers: what a NIC or a switch
// port counts. The kernel's flow counts, taken where the super-packets enter
// the router, equal them: bytes would be short by (segments - skbs) headers.
TEST(ExactFlows, WireBytesEqualTheCountersOfADeviceThatSegments) {
  Netns a("wa"), r("wr"), b("wb");
  VethPair ra(a, r, VethOptions{.addr_a = "10.82.1.2/24", .addr_b = "10.82.1.1/24"});
  VethPair rb(b, r, VethOptions{.addr_a = "10.82.2.2/24", .addr_b = "10.82.2.1/24"});
  r.run_ok("sysctl -qw net.ipv4.ip_forward=1");
  // No IPv6 on the links: neighbour discovery and MLD would add frames to
  // the counters the test compares with.
  for (const Netns* ns : {&a, &r, &b}) ns->run_ok("sysctl -qw net.ipv6.conf.all.disable_ipv6=1");
  a.run_ok("ip route add default via 10.82.1.1");
  b.run_ok("ip route add default via 10.82.2.1");
  const std::string to_b = rb.name_b();
  r.run_ok("ethtool -K " + to_b + " tso off gso off");
  auto dp = make_datapath(r, options(ExactFlows::kAll));
  ASSERT_TRUE(dp);
  ASSERT_TRUE(r.within([&] { return dp->hook(ra.ifindex_b(), 0, Role::kPod); }));
  // Neighbours resolved before the counters are read: nothing but the test's
  // packets crosses the link while they are.
  a.run_ok("ping -c1 -W2 10.82.2.2");
  auto server = b.spawn("iperf3 -s -1 -B 10.82.2.2 -p 5312");
  wait_listening(b, 5312);
  (void)drain_all(*dp);
  auto tx = [&](const char* what) {
    return std::stoull(r.run_ok("cat /sys/class/net/" + to_b + "/statistics/" + what));
  };
  const std::uint64_t tx_bytes0 = tx("tx_bytes"), tx_packets0 = tx("tx_packets");
  iperf(a, "-c 10.82.2.2 -p 5312 -t 2");
  server.wait();
  const std::uint64_t tx_bytes = tx("tx_bytes") - tx_bytes0, tx_packets = tx("tx_packets") - tx_packets0;
  auto flows = drain_all(*dp);
  const Totals ab = sum(flows, "10.82.1.2", "10.82.2.2", 6);
  ASSERT_GT(tx_bytes, 100'000'000u);
  EXPECT_LT(ab.bytes, tx_bytes) << "L3 bytes of super-packets are less than what the wire carries";
  // An ARP probe of the router to B may still go out meanwhile: a few
  // frames (the headers left out would be 54 bytes a segment: megabytes).
  EXPECT_NEAR(static_cast<double>(ab.wire_bytes), static_cast<double>(tx_bytes), 4 * 60);
  EXPECT_NEAR(static_cast<double>(ab.packets), static_cast<double>(tx_packets), 4);
  auto c = dp->counters();
  ASSERT_TRUE(c);
  for (const auto& i : c->interfaces)
    if (i.ifindex == static_cast<std::uint32_t>(ra.ifindex_b()) && i.direction == NETRING_DIR_INGRESS) {
      EXPECT_EQ(i.gso_unparsed, 0u);
      EXPECT_GE(i.wire_bytes, ab.wire_bytes) << "the interface's wire bytes count the same headers";
      EXPECT_GT(i.wire_bytes, i.bytes);
    }
  destroy_datapath(r, dp);
}

bool declined_by_kernel(std::span<const std::byte> f) {
  if (f.size() < 34) return false;
  const auto b = [&](std::size_t i) { return static_cast<unsigned>(f[i]); };
  const unsigned type = b(12) << 8 | b(13);
  if (type == 0x86dd) {
    const unsigned nh = b(20);
    return nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 60 || nh == 135 || nh == 139 || nh == 140;
  }
  return type == 0x0800 && ((b(20) << 8 | b(21)) & 0x3fff) != 0;
}

// A flow's samples all reach the stream of queue flow_key_hash(key) % queues,
// on both mirror rungs: that is where the publisher sends its exact counts.
TEST(ExactFlows, EverySampleReachesTheQueueItsFlowKeyHashNames) {
  for (Rung rung : {Rung::kAfPacketMirror, Rung::kAfXdpMirror}) {
    SCOPED_TRACE(netring::datapath::to_string(rung));
    constexpr std::uint32_t kQueues = 4;
    Netns host("qh"), pod("qp");
    VethPair link(pod, host, VethOptions{.addr_a = "10.83.0.2/24", .addr_b = "10.83.0.1/24"});
    auto dp = make_datapath(host, options(ExactFlows::kBulk, rung, kQueues));
    ASSERT_TRUE(dp);
    auto streams = host.within([&] { return dp->open_sources(); });
    ASSERT_TRUE(streams) << streams.error().message();
    ASSERT_EQ(streams->size(), kQueues);
    ASSERT_EQ(dp->rung(), rung);
    ASSERT_TRUE(host.within([&] { return dp->hook(link.ifindex_b(), 1, Role::kPod); }));

    auto server = host.spawn("iperf3 -s -1 -B 10.83.0.1 -p 5313");
    iperf(pod, "-c 10.83.0.1 -p 5313 -t 1 -P 8 -b 200M");
    server.wait();

    netring::flow::Parser parser;
    std::array<netring::datapath::Sample, netring::datapath::SampleStream::kBatch> batch{};
    std::map<std::uint32_t, std::uint64_t> per_queue;
    std::uint64_t wrong = 0, counted = 0, total = 0;
    for (int quiet = 0; quiet < 20;) {
      bool any = false;
      for (std::uint32_t q = 0; q < kQueues; ++q) {
        auto n = (*streams)[q]->poll(batch);
        ASSERT_TRUE(n) << n.error().message();
        for (std::size_t i = 0; i < *n; ++i) {
          const auto& s = batch[i];
          netring::flow::ParsedPacket pk;
          if (parser.parse({s.frame.data(), static_cast<std::uint32_t>(s.frame.size())}, pk) !=
              netring::flow::ParseStatus::kOk)
            continue;
          // What the kernel's parser declines (an IPv6 extension header,
          // e.g. MLD's hop-by-hop option) it cannot hash: spread by CPU.
          if (declined_by_kernel(s.frame)) continue;
          ++total;
          ++per_queue[q];
          counted += s.info.counted ? 1 : 0;
          EXPECT_EQ(s.info.queue, q);
          if (netring::kflow::flow_key_hash(pk.key) % kQueues != q) ++wrong;
        }
        (*streams)[q]->release();
        any = any || *n > 0;
      }
      quiet = any ? 0 : quiet + 1;
      if (!any) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_GT(total, 200u);
    EXPECT_EQ(wrong, 0u) << "samples on a queue their flow does not hash to";
    EXPECT_GE(per_queue.size(), 2u) << "eight connections all hashed to one queue";
    EXPECT_GT(counted, 0u) << "no sample of a counted (GSO) packet arrived marked";
    streams->clear();
    destroy_datapath(host, dp);
  }
}

}  // namespace
