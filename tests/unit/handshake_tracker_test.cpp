// TCP handshakes from control packets: attempts, establishment with both
// halves of the round trip, resets by side, retransmitted SYNs, reuse of a
// 4-tuple, and the table's bound.
#include <gtest/gtest.h>

#include "pkg/handshake/tracker.hpp"

namespace {

using netring::flow::FlowKey;
using netring::handshake::Event;
using netring::handshake::Side;
using netring::handshake::Tracker;
using netring::handshake::TrackerConfig;

constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;
constexpr std::uint64_t kMs = 1'000'000;

FlowKey key(std::uint16_t sport, bool reverse = false) {
  FlowKey k{};
  k.family = 4;
  k.protocol = 6;
  auto c = netring::flow::ipv4_address(std::array<std::uint8_t, 4>{10, 0, 0, 1}.data());
  auto s = netring::flow::ipv4_address(std::array<std::uint8_t, 4>{10, 0, 0, 2}.data());
  k.src = reverse ? s : c;
  k.dst = reverse ? c : s;
  k.src_port = reverse ? 80 : sport;
  k.dst_port = reverse ? sport : 80;
  return k;
}

TEST(HandshakeTracker, EstablishedWithBothHalvesOfTheRoundTrip) {
  Tracker t;
  t.packet(key(1000), kSyn, 100 * kMs);
  t.packet(key(1000, true), kSyn | kAck, 120 * kMs);
  t.packet(key(1000), kAck, 125 * kMs);
  t.packet(key(1000), kAck, 126 * kMs);  // later ACKs change nothing
  auto ev = t.take();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, Event::Kind::kAttempt);
  EXPECT_EQ(ev[1].kind, Event::Kind::kEstablished);
  EXPECT_EQ(ev[1].syn_to_synack_ns, 20 * kMs);
  EXPECT_EQ(ev[1].synack_to_ack_ns, 5 * kMs);
  EXPECT_TRUE(ev[1].key == key(1000));
  const auto* c = t.find(key(1000, true));
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->established);
  EXPECT_EQ(c->syn_to_synack_ns(), 20 * kMs);
}

// The SYN to a Service address, the SYN-ACK from the pod behind it.
TEST(HandshakeTracker, TheSynAckFromThePodBehindAServiceCompletesTheHandshake) {
  Tracker t;
  FlowKey syn = key(2000);
  syn.dst = netring::flow::ipv4_address(std::array<std::uint8_t, 4>{10, 96, 0, 1}.data());
  t.packet(syn, kSyn, 0);
  t.packet(key(2000, true), kSyn | kAck, 3 * kMs);  // from 10.0.0.2:80
  t.packet(syn, kAck, 4 * kMs);
  auto ev = t.take();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[1].kind, Event::Kind::kEstablished);
  EXPECT_TRUE(ev[1].key == syn);
  EXPECT_EQ(ev[1].syn_to_synack_ns, 3 * kMs);
  const auto* c = t.find(key(2000, true));
  ASSERT_NE(c, nullptr) << "the pod's flow finds the connection too";
  EXPECT_TRUE(c->responder == key(2000, true).src);
}

TEST(HandshakeTracker, ResetsSayWhichSideSentThem) {
  Tracker t;
  t.packet(key(1), kSyn, 0);
  t.packet(key(1, true), kRst | kAck, 1 * kMs);  // closed port: the server resets
  t.packet(key(2), kSyn, 2 * kMs);
  t.packet(key(2, true), kSyn | kAck, 3 * kMs);
  t.packet(key(2), kAck, 4 * kMs);
  t.packet(key(2), kRst, 5 * kMs);  // the client aborts
  t.packet(key(2), kRst, 6 * kMs);  // counted once per connection
  t.packet(key(3), kRst, 7 * kMs);  // a connection never seen
  auto ev = t.take();
  std::vector<Side> sides;
  for (const auto& e : ev)
    if (e.kind == Event::Kind::kReset) sides.push_back(e.side);
  EXPECT_EQ(sides, (std::vector<Side>{Side::kServer, Side::kClient, Side::kUnknown}));
  EXPECT_EQ(t.stats().attempts, 2u);
  EXPECT_EQ(t.stats().established, 1u);
}

TEST(HandshakeTracker, RetransmittedSynIsOneAttemptTimedFromTheLatest) {
  Tracker t;
  t.packet(key(7), kSyn, 0);
  t.packet(key(7), kSyn, 1000 * kMs);
  t.packet(key(7, true), kSyn | kAck, 1010 * kMs);
  t.packet(key(7), kAck, 1011 * kMs);
  EXPECT_EQ(t.stats().attempts, 1u);
  EXPECT_EQ(t.stats().syn_retransmits, 1u);
  auto ev = t.take();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[1].syn_to_synack_ns, 10 * kMs);
  // The 4-tuple reused after a finished connection: a new attempt.
  t.packet(key(7), kFin | kAck, 1100 * kMs);
  t.packet(key(7), kSyn, 1200 * kMs);
  EXPECT_EQ(t.stats().attempts, 2u);
}

TEST(HandshakeTracker, BoundedAndForgetsIdleConnections) {
  Tracker t(TrackerConfig{.max_connections = 3, .linger_ns = 1000 * kMs});
  for (std::uint16_t p = 1; p <= 5; ++p) t.packet(key(p), kSyn, p);
  EXPECT_EQ(t.stats().tracked, 3u);
  EXPECT_EQ(t.stats().table_full, 2u);
  t.packet(key(1, true), kSyn | kAck, 900 * kMs);  // keeps connection 1 alive
  t.expire(1500 * kMs);
  EXPECT_EQ(t.stats().tracked, 1u);
  EXPECT_NE(t.find(key(1)), nullptr);
  t.expire(2000 * kMs);
  EXPECT_EQ(t.stats().tracked, 0u);
}

}  // namespace
