// PACKET_FANOUT on a real veth: two sockets in one group split many flows
// with nothing lost or duplicated; in hash mode every flow stays on one
// member; group ids are allocated by the kernel and mismatches are refused.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "pkg/packet/fanout.hpp"
#include "pkg/packet/socket.hpp"
#include "tests/testing/capture_helpers.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/raw_sender.hpp"

namespace {

using netring::packet::FanoutGroup;
using netring::packet::FanoutMode;
using netring::packet::FanoutOptions;
using netring::packet::PacketSocket;
using netring::packet::RingGeometry;
using netring::packet::SocketOptions;
using netring::testing::Captured;
using netring::testing::Netns;
using netring::testing::numbered_frame;
using netring::testing::open_packet_socket;
using netring::testing::parse_numbered;
using netring::testing::RawSender;
using netring::testing::VethPair;

constexpr std::uint32_t kFlows = 64;
constexpr std::uint32_t kPerFlow = 40;

struct Split {
  std::vector<std::vector<Captured>> per_socket;
  std::map<std::uint32_t, int> times_seen;                 // number -> count over all sockets
  std::map<std::uint32_t, std::set<std::size_t>> flow_on;  // flow -> sockets it appeared on
};

// Sends kFlows x kPerFlow numbered frames through a -> b (flows interleaved)
// and captures them with two sockets on b joined to one group.
Split run(FanoutOptions fo) {
  Netns a("fa"), b("fb");
  netring::testing::disable_ipv6(a);
  netring::testing::disable_ipv6(b);
  VethPair v(a, b);
  const SocketOptions so{.interface = v.name_b(), .ring = RingGeometry{.block_size = 1 << 16, .block_count = 32}};
  PacketSocket s0 = open_packet_socket(b, so);
  PacketSocket s1 = open_packet_socket(b, so);
  FanoutGroup group(fo);
  auto j0 = group.join(s0.fd());
  EXPECT_TRUE(j0.ok()) << j0.error().message();
  auto j1 = group.join(s1.fd());
  EXPECT_TRUE(j1.ok()) << j1.error().message();
  EXPECT_TRUE(group.id().has_value()) << "the kernel allocated an id";
  EXPECT_EQ(*netring::packet::fanout_group_of(s0.fd()), group.id().value_or(0xffff));
  EXPECT_EQ(*netring::packet::fanout_group_of(s1.fd()), group.id().value_or(0xffff));

  RawSender tx = a.within([&] { return RawSender(v.name_a()); });
  std::uint32_t n = 0;
  for (std::uint32_t k = 0; k < kPerFlow; ++k) {
    for (std::uint32_t f = 0; f < kFlows; ++f) {
      EXPECT_TRUE(tx.send(numbered_frame(n++, 64, f)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // let softirq drain the veth backlog
  }
  PacketSocket* socks[] = {&s0, &s1};
  Split out;
  out.per_socket = netring::testing::drain(socks, kFlows * kPerFlow, std::chrono::seconds(30));
  for (std::size_t s = 0; s < 2; ++s) {
    for (const auto& c : out.per_socket[s]) {
      std::uint32_t num, flow;
      parse_numbered(reinterpret_cast<const std::byte*>(c.bytes.data()), static_cast<std::uint32_t>(c.bytes.size()),
                     num, flow);
      ++out.times_seen[num];
      out.flow_on[flow].insert(s);
    }
  }
  for (auto* s : socks) {
    auto st = s->stats();
    EXPECT_TRUE(st.ok());
    EXPECT_EQ(st->drops, 0u);
  }
  return out;
}

void expect_each_once(const Split& r) {
  EXPECT_EQ(r.times_seen.size(), kFlows * kPerFlow) << "nothing lost";
  int dup = 0;
  for (const auto& [num, n] : r.times_seen) dup += n != 1;
  EXPECT_EQ(dup, 0) << "nothing captured twice";
  // 64 flows hashed onto 2 members: all on one has probability 2^-63.
  EXPECT_FALSE(r.per_socket[0].empty());
  EXPECT_FALSE(r.per_socket[1].empty());
}

TEST(PacketFanout, HashSplitsFlowsOnceEachAndKeepsFlowAffinity) {
  auto r = run(FanoutOptions{.mode = FanoutMode::kHash});
  expect_each_once(r);
  ASSERT_EQ(r.flow_on.size(), kFlows);
  for (const auto& [flow, socks] : r.flow_on) EXPECT_EQ(socks.size(), 1u) << "flow " << flow << " split";
}

TEST(PacketFanout, HashWithDefragAndRolloverFlags) {
  auto r = run(FanoutOptions{.mode = FanoutMode::kHash, .defrag = true, .rollover = true});
  expect_each_once(r);
}

TEST(PacketFanout, LoadBalanceSpreadsEveryPacketOnce) {
  auto r = run(FanoutOptions{.mode = FanoutMode::kLoadBalance});
  expect_each_once(r);
  // Round robin on one shared counter (rr_cur): the members' shares differ
  // by at most one packet, whichever CPU each packet arrived on.
  const auto c0 = static_cast<long>(r.per_socket[0].size()), c1 = static_cast<long>(r.per_socket[1].size());
  EXPECT_LE(std::labs(c0 - c1), 1L) << c0 << " vs " << c1;
}

TEST(PacketFanout, OtherModesJoinAndDeliverOnce) {
  for (auto m : {FanoutMode::kCpu, FanoutMode::kRandom, FanoutMode::kQueueMapping, FanoutMode::kRollover}) {
    SCOPED_TRACE(netring::packet::to_string(m));
    auto r = run(FanoutOptions{.mode = m});
    EXPECT_EQ(r.times_seen.size(), kFlows * kPerFlow);
    int dup = 0;
    for (const auto& [num, n] : r.times_seen) dup += n != 1;
    EXPECT_EQ(dup, 0);
  }
}

TEST(PacketFanout, MismatchedMembersAreRefusedWithAReason) {
  Netns a("ma"), b("mb");
  VethPair v(a, b);
  PacketSocket on_b = open_packet_socket(b, SocketOptions{.interface = v.name_b()});
  FanoutGroup group(FanoutOptions{.mode = FanoutMode::kHash});
  ASSERT_TRUE(group.join(on_b.fd()).ok());
  // Same namespace, bound to every interface instead of v.name_b().
  PacketSocket any = open_packet_socket(b, SocketOptions{});
  auto r = group.join(any.fd());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), EINVAL);
  EXPECT_NE(r.error().message().find("group " + std::to_string(group.id().value_or(0))), std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("interface"), std::string::npos) << r.error().message();

  // An unbound socket cannot join at all.
  auto unbound = b.within([&] { return PacketSocket::create(SocketOptions{.interface = v.name_b()}); });
  ASSERT_TRUE(unbound.ok());
  FanoutGroup fresh(FanoutOptions{});
  EXPECT_FALSE(fresh.join(unbound->fd()).ok());
}

}  // namespace
