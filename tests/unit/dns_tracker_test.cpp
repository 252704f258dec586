// Query/response matching by (5-tuple, id): latency, timeouts, unmatched
// responses, retries, and the table's bound.
#include <gtest/gtest.h>

#include "pkg/dns/tracker.hpp"

namespace {

using netring::dns::Exchange;
using netring::dns::Message;
using netring::dns::reversed;
using netring::dns::Tracker;
using netring::dns::TrackerConfig;
using netring::flow::FlowKey;

FlowKey key(std::uint8_t client, std::uint16_t sport) {
  FlowKey k{};
  k.family = 4;
  k.protocol = 17;
  k.src = netring::flow::ipv4_address(std::array<std::uint8_t, 4>{10, 0, 0, client}.data());
  k.dst = netring::flow::ipv4_address(std::array<std::uint8_t, 4>{10, 0, 0, 53}.data());
  k.src_port = sport;
  k.dst_port = 53;
  return k;
}

Message msg(std::uint16_t id, bool response, std::uint8_t rcode = 0) {
  Message m;
  m.id = id;
  m.response = response;
  m.rcode = rcode;
  m.qtype = 1;
  const char n[] = "svc.example";
  std::copy(n, n + sizeof n - 1, m.name.begin());
  m.name_len = sizeof n - 1;
  return m;
}

constexpr std::uint64_t kMs = 1'000'000;

TEST(DnsTracker, MatchesByFiveTupleAndIdAndTimesIt) {
  Tracker t(TrackerConfig{.timeout_ns = 1000 * kMs});
  const FlowKey a = key(1, 40000), b = key(2, 40000);
  t.query(a, msg(7, false), 100 * kMs);
  t.query(b, msg(7, false), 101 * kMs);  // same id, another client
  t.response(reversed(b), msg(7, true, 3), 111 * kMs);
  t.response(reversed(a), msg(8, true), 112 * kMs);  // wrong id
  t.response(reversed(a), msg(7, true, 0), 120 * kMs);
  auto done = t.take();
  ASSERT_EQ(done.size(), 3u);
  EXPECT_EQ(done[0].outcome, Exchange::Outcome::kAnswered);
  EXPECT_TRUE(done[0].key == b);
  EXPECT_EQ(done[0].rcode, 3);
  EXPECT_EQ(done[0].latency_ns(), 10 * kMs);
  EXPECT_EQ(done[1].outcome, Exchange::Outcome::kUnmatchedResponse);
  EXPECT_EQ(done[2].outcome, Exchange::Outcome::kAnswered);
  EXPECT_TRUE(done[2].key == a);
  EXPECT_EQ(done[2].latency_ns(), 20 * kMs);
  EXPECT_EQ(done[2].qname(), "svc.example");
  EXPECT_EQ(t.stats().queries, 2u);
  EXPECT_EQ(t.stats().responses, 3u);
  EXPECT_EQ(t.stats().pending, 0u);
}

// A query to a Service address (before DNAT) and the response from the pod
// behind it (before the reverse translation) are one exchange.
TEST(DnsTracker, AResponseFromThePodBehindAServiceMatches) {
  Tracker t;
  FlowKey q = key(1, 40000);
  q.dst = netring::flow::ipv4_address(std::array<std::uint8_t, 4>{10, 96, 0, 10}.data());
  FlowKey r = reversed(key(1, 40000));  // from 10.0.0.53:53
  t.query(q, msg(9, false), 0);
  t.response(r, msg(9, true), 5 * kMs);
  auto done = t.take();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].outcome, Exchange::Outcome::kAnswered);
  EXPECT_TRUE(done[0].key == q) << "the exchange keeps the address the client asked";
  EXPECT_TRUE(done[0].responder == r.src);
  EXPECT_EQ(done[0].latency_ns(), 5 * kMs);
  // Another client port, or UDP vs TCP, is another exchange.
  FlowKey tcp = q;
  tcp.protocol = 6;
  t.query(tcp, msg(10, false), 10 * kMs);
  t.response(r, msg(10, true), 11 * kMs);
  EXPECT_EQ(t.take()[0].outcome, Exchange::Outcome::kUnmatchedResponse);
}

TEST(DnsTracker, UnansweredQueriesTimeOutAfterTheTimeout) {
  Tracker t(TrackerConfig{.timeout_ns = 500 * kMs});
  t.query(key(1, 1), msg(1, false), 0);
  t.query(key(1, 2), msg(2, false), 300 * kMs);
  t.expire(499 * kMs);
  EXPECT_TRUE(t.take().empty());
  t.expire(500 * kMs);
  auto done = t.take();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].outcome, Exchange::Outcome::kTimeout);
  EXPECT_EQ(done[0].id, 1);
  // A late answer to a timed-out query is an unmatched response.
  t.response(reversed(key(1, 1)), msg(1, true), 600 * kMs);
  t.expire(800 * kMs);
  done = t.take();
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].outcome, Exchange::Outcome::kUnmatchedResponse);
  EXPECT_EQ(done[1].outcome, Exchange::Outcome::kTimeout);
  EXPECT_EQ(t.stats().timeouts, 2u);
}

TEST(DnsTracker, RetriesKeepTheFirstQueryTime) {
  Tracker t;
  t.query(key(1, 1), msg(5, false), 0);
  t.query(key(1, 1), msg(5, false), 1000 * kMs);
  t.response(reversed(key(1, 1)), msg(5, true), 1002 * kMs);
  auto done = t.take();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].queries, 2u);
  EXPECT_EQ(done[0].latency_ns(), 1002 * kMs);
  EXPECT_EQ(t.stats().retries, 1u);
  EXPECT_EQ(t.stats().queries, 2u);
}

TEST(DnsTracker, TheTableIsBounded) {
  Tracker t(TrackerConfig{.timeout_ns = 1000 * kMs, .max_pending = 4});
  for (std::uint16_t i = 0; i < 10; ++i) t.query(key(1, i), msg(i, false), i);
  EXPECT_EQ(t.stats().pending, 4u);
  EXPECT_EQ(t.stats().table_full, 6u);
  // Answered queries make room; the bookkeeping of answered ones stays bounded.
  for (std::uint16_t round = 0; round < 100; ++round) {
    for (std::uint16_t i = 0; i < 4; ++i) t.response(reversed(key(1, i)), msg(i, true), 100 + round);
    for (std::uint16_t i = 0; i < 4; ++i) t.query(key(1, i), msg(i, false), 101 + round);
  }
  EXPECT_EQ(t.stats().pending, 4u);
  t.expire(100'000 * kMs);
  EXPECT_EQ(t.stats().pending, 0u);
}

}  // namespace
