// The no-BPF rung on a real node-like topology: pods A and B behind
// host-side veths of a "node" namespace that routes between them and an
// uplink to an "outside" namespace (standing in for the physical NIC). Every
// datagram is kept once whatever path it takes, while a plain socket on the
// same node sees the pod-to-pod ones twice.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <thread>

#include "pkg/capture/direct_capture.hpp"
#include "tests/testing/capture_helpers.hpp"
#include "tests/testing/netns.hpp"

namespace {

using netring::capture::DirectCapture;
using netring::capture::DirectCaptureOptions;
using netring::capture::Direction;
using netring::capture::PacketView;
using netring::capture::Source;
using netring::packet::DirectCaptureRule;
using netring::testing::Netns;
using netring::testing::VethOptions;
using netring::testing::VethPair;

constexpr char kMagic[4] = {'N', 'R', 'D', 'C'};

struct Key {
  std::uint32_t scenario, number;
  auto operator<=>(const Key&) const = default;
};
struct Seen {
  int times = 0;
  std::uint32_t ifindex = 0;
  Direction dir = Direction::kUnknown;
};

// UDP datagrams from `ns` to dst:9999, payload "NRDC" scenario number.
void send_udp(const Netns& ns, const std::string& dst, std::uint32_t scenario, std::uint32_t count) {
  ns.within([&] {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(9999);
    ::inet_pton(AF_INET, dst.c_str(), &to.sin_addr);
    for (std::uint32_t i = 0; i < count; ++i) {
      char buf[12];
      std::memcpy(buf, kMagic, 4);
      std::memcpy(buf + 4, &scenario, 4);
      std::memcpy(buf + 8, &i, 4);
      EXPECT_EQ(::sendto(fd, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)), 12);
      if (i % 50 == 49) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ::close(fd);
  });
}

bool parse(const PacketView& v, Key& k) {
  const auto* d = reinterpret_cast<const std::uint8_t*>(v.data);
  if (v.len < 14 + 20 + 8 + 12 || d[12] != 0x08 || d[13] != 0x00) return false;
  const std::size_t ihl = (d[14] & 0x0f) * 4u;
  if (d[14 + 9] != IPPROTO_UDP || v.len < 14 + ihl + 8 + 12) return false;
  const std::uint8_t* p = d + 14 + ihl + 8;
  if (std::memcmp(p, kMagic, 4) != 0) return false;
  std::memcpy(&k.scenario, p + 4, 4);
  std::memcpy(&k.number, p + 8, 4);
  return true;
}

// Reads all sources until nothing new arrives for two seconds, or a minute
// has passed (frames that never stop arriving end in a failed count, not a
// hung test).
std::map<Key, Seen> collect(std::vector<std::unique_ptr<Source>>& sources) {
  std::map<Key, Seen> seen;
  PacketView batch[64];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  auto quiet_since = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - quiet_since < std::chrono::seconds(2) &&
         std::chrono::steady_clock::now() < deadline) {
    bool any = false;
    for (auto& s : sources) {
      auto n = s->poll_batch(batch);
      EXPECT_TRUE(n.ok());
      for (std::size_t i = 0; i < *n; ++i) {
        Key k;
        if (!parse(batch[i], k)) continue;
        Seen& e = seen[k];
        ++e.times;
        e.ifindex = batch[i].ifindex;
        e.dir = batch[i].direction;
      }
      s->release();
      any |= *n > 0;
    }
    if (any)
      quiet_since = std::chrono::steady_clock::now();
    else
      (void)sources[0]->wait(20);
  }
  return seen;
}

class DirectCaptureTest : public ::testing::Test {
 protected:
  DirectCaptureTest()
      : node_("node"),
        pod_a_("poda"),
        pod_b_("podb"),
        outside_("out"),
        va_(node_, pod_a_, VethOptions{.addr_a = "10.81.1.1/24", .addr_b = "10.81.1.2/24"}),
        vb_(node_, pod_b_, VethOptions{.addr_a = "10.81.2.1/24", .addr_b = "10.81.2.2/24"}),
        up_(node_, outside_, VethOptions{.addr_a = "10.81.9.1/24", .addr_b = "10.81.9.2/24"}) {
    node_.run_ok("sysctl -qw net.ipv4.ip_forward=1");
    pod_a_.run_ok("ip route add default via 10.81.1.1");
    pod_b_.run_ok("ip route add default via 10.81.2.1");
    outside_.run_ok("ip route add 10.81.0.0/16 via 10.81.9.1");
    // Prime ARP everywhere so the measured datagrams are not queued behind
    // neighbour resolution.
    pod_a_.run_ok("ping -c1 -W5 10.81.2.2 && ping -c1 -W5 10.81.9.2");
    node_.run_ok("ping -c1 -W5 10.81.9.2");
    // Read once: ifindex_a() runs a command in the namespace (tens of ms
    // here, about a second under an emulated kernel), far too slow to ask
    // per datagram.
    va_if_ = static_cast<std::uint32_t>(va_.ifindex_a());
    vb_if_ = static_cast<std::uint32_t>(vb_.ifindex_a());
    up_if_ = static_cast<std::uint32_t>(up_.ifindex_a());
  }

  DirectCaptureRule rule() const {
    DirectCaptureRule r;
    r.hooked = {va_if_, vb_if_, up_if_};
    r.physical = {up_if_};
    for (const char* a : {"10.81.1.1", "10.81.2.1", "10.81.9.1"}) {
      in_addr x{};
      ::inet_pton(AF_INET, a, &x);
      r.local_v4.push_back(x);
    }
    return r;
  }

  Netns node_, pod_a_, pod_b_, outside_;
  VethPair va_, vb_, up_;
  std::uint32_t va_if_ = 0, vb_if_ = 0, up_if_ = 0;  // node-side ends
};

constexpr std::uint32_t kPodToPod = 1, kNodeToOutside = 2, kPodToOutside = 3, kOutsideToPod = 4;
constexpr std::uint32_t kCount = 200;

TEST_F(DirectCaptureTest, EveryPacketIsKeptOnceWhateverItsPath) {
  auto dc = node_.within([&] {
    return DirectCapture::open(
        DirectCaptureOptions{.rule = rule(), .members = 2, .ring = {.block_size = 1 << 16, .block_count = 16}});
  });
  ASSERT_TRUE(dc.ok()) << dc.error().message();
  ASSERT_EQ(dc->sources().size(), 2u);

  send_udp(pod_a_, "10.81.2.2", kPodToPod, kCount);        // forwarded veth -> veth
  send_udp(node_, "10.81.9.2", kNodeToOutside, kCount);    // node's own, out of the NIC
  send_udp(pod_a_, "10.81.9.2", kPodToOutside, kCount);    // forwarded veth -> NIC
  send_udp(outside_, "10.81.1.2", kOutsideToPod, kCount);  // forwarded NIC -> veth
  auto seen = collect(dc->sources());

  std::map<std::uint32_t, int> per_scenario;
  for (const auto& [k, s] : seen) {
    ++per_scenario[k.scenario];
    EXPECT_EQ(s.times, 1) << "scenario " << k.scenario << " datagram " << k.number << " kept once";
    switch (k.scenario) {
      case kPodToPod:
      case kPodToOutside:
        EXPECT_EQ(s.ifindex, va_if_) << "kept where it entered: A's veth";
        EXPECT_EQ(s.dir, Direction::kIngress);
        break;
      case kNodeToOutside:
        EXPECT_EQ(s.ifindex, up_if_) << "kept leaving the NIC";
        EXPECT_EQ(s.dir, Direction::kEgress);
        break;
      case kOutsideToPod:
        EXPECT_EQ(s.ifindex, up_if_) << "kept where it entered: the NIC";
        EXPECT_EQ(s.dir, Direction::kIngress);
        break;
    }
  }
  for (std::uint32_t sc : {kPodToPod, kNodeToOutside, kPodToOutside, kOutsideToPod})
    EXPECT_EQ(per_scenario[sc], static_cast<int>(kCount)) << "scenario " << sc << ": none lost";
  // Both fanout members took part (hash over 4 x 200 datagrams of 4 flows
  // could in principle all land on one member: not asserted).
}

TEST_F(DirectCaptureTest, WithoutTheRuleThePodToPodPathIsSeenTwice) {
  // The counter-check: a plain unfiltered socket on the same node.
  auto plain = node_.within([&] {
    return netring::capture::open_packet(
        netring::capture::PacketSourceOptions{.ring = {.block_size = 1 << 16, .block_count = 16}});
  });
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  send_udp(pod_a_, "10.81.2.2", kPodToPod, kCount);
  auto seen = collect(*plain);
  int twice = 0;
  for (const auto& [k, s] : seen) twice += k.scenario == kPodToPod && s.times == 2;
  EXPECT_EQ(twice, static_cast<int>(kCount)) << "in on A's veth, out on B's";
}

TEST_F(DirectCaptureTest, UnhookedInterfacesAreIgnoredAndRuleCanChange) {
  DirectCaptureRule only_b = rule();
  only_b.hooked = {vb_if_};
  only_b.physical.clear();
  auto dc = node_.within([&] {
    return DirectCapture::open(
        DirectCaptureOptions{.rule = only_b, .members = 1, .ring = {.block_size = 1 << 16, .block_count = 16}});
  });
  ASSERT_TRUE(dc.ok()) << dc.error().message();
  // A -> B enters on A's (unhooked) veth and leaves on B's: outgoing on a
  // hooked virtual interface is not kept, so nothing.
  send_udp(pod_a_, "10.81.2.2", kPodToPod, 50);
  // B -> A enters on B's veth: kept.
  send_udp(pod_b_, "10.81.1.2", kOutsideToPod, 50);
  auto seen = collect(dc->sources());
  std::map<std::uint32_t, int> per;
  for (const auto& [k, s] : seen) per[k.scenario] += s.times;
  EXPECT_EQ(per[kPodToPod], 0);
  EXPECT_EQ(per[kOutsideToPod], 50);

  ASSERT_TRUE(dc->set_rule(rule()).ok());
  send_udp(pod_a_, "10.81.2.2", kNodeToOutside, 50);
  seen = collect(dc->sources());
  per.clear();
  for (const auto& [k, s] : seen) per[k.scenario] += s.times;
  EXPECT_EQ(per[kNodeToOutside], 50) << "A's veth hooked now";
}

TEST(DirectCaptureFilter, ManyInterfacesStillFitAndTooManyAreRefused) {
  DirectCaptureRule r;
  for (std::uint32_t i = 1; i <= 1000; ++i) r.hooked.push_back(i);
  auto ok = netring::packet::direct_capture_filter(r, 4, 0);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  // The kernel's classic checker accepts it (jumps in range, ends in ret).
  auto sock = netring::packet::PacketSocket::create(
      netring::packet::SocketOptions{.ring = {.block_size = 4096, .block_count = 2}});
  ASSERT_TRUE(sock.ok()) << sock.error().message();
  auto att = netring::packet::attach_classic(sock->fd(), *ok, "1000 interfaces");
  EXPECT_TRUE(att.ok()) << att.error().message();
  for (std::uint32_t i = 1001; i <= 3000; ++i) r.hooked.push_back(i);
  auto big = netring::packet::direct_capture_filter(r, 4, 0);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message().find("max 4096"), std::string::npos) << big.error().message();
}

}  // namespace
