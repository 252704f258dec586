// RateHistory: growth per endpoint pair over recent publications, the data
// behind /api/v1/top?window= and the page's service map. Snapshots are
// built by hand with known times and totals, and their growth per flow is
// worked out by the tracker that feeds the history in the agent
// (metrics::FlowDeltaTracker, as the publisher runs it).
#include "agent/api/rate_history.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <prometheus/registry.h>

#include "agent/metrics/flow_delta_tracker.hpp"
#include "agent/metrics/flow_metrics.hpp"

namespace netring::agent::api {
namespace {

constexpr std::uint64_t kSec = 1'000'000'000ull;
constexpr std::uint64_t kT0 = 1'700'000'000ull * kSec;

Identity pod(std::string ns, std::string wl, std::string name) {
  return Identity{"node-a", std::move(ns), std::move(wl), "Deployment", std::move(name), ""};
}

FlowView flow(std::uint64_t id, Identity s, Identity d, double bytes, double packets, std::uint64_t first_seen = 1) {
  FlowView f;
  f.id = id;
  f.src = *IpAddress::parse("10.0.0.1");
  f.dst = *IpAddress::parse("10.0.0.2");
  f.protocol = IPPROTO_TCP;
  f.src_id = std::move(s);
  f.dst_id = std::move(d);
  f.bytes = bytes;
  f.packets = packets;
  f.first_seen_ns = first_seen;
  f.start_mono_ns = first_seen;
  return f;
}

AgentSnapshot at(std::uint64_t seconds, std::vector<FlowView> flows) {
  AgentSnapshot s;
  s.generation = seconds + 1;
  s.taken_ns = kT0 + seconds * kSec;
  s.flows = std::move(flows);
  return s;
}

// One publication after another, as the publisher hands them on.
class Feed {
 public:
  explicit Feed(RateHistory& h) : h_(h) {}
  void add(const AgentSnapshot& s, const std::vector<FlowView>& evicted = {}) {
    std::vector<FlowGrowth> growth;
    tracker_.update(s.flows, evicted, &growth);
    h_.add(s.taken_ns, growth);
  }

 private:
  RateHistory& h_;
  prometheus::Registry registry_;
  metrics::FlowMetrics sink_{registry_, metrics::FlowMetricsOptions{}};
  metrics::FlowDeltaTracker tracker_{sink_};
};

const Identity kFe = pod("shop", "frontend", "frontend-1"), kFe2 = pod("shop", "frontend", "frontend-2"),
               kCart = pod("shop", "cart", "cart-1"), kDb = pod("data", "postgres", "postgres-0");

double bytes_of(const WindowedTop& t, const std::string& key) {
  for (const auto& e : t.entries)
    if (e.key == key) return e.bytes;
  return -1;
}

TEST(RateHistory, TheFirstPublicationIsOnlyTheBaseline) {
  RateHistory h;
  Feed feed(h);
  feed.add(at(0, {flow(1, kFe, kCart, 5000, 5)}));
  auto t = h.top(TopKey::kPair, TopBy::kBytes, 10, std::chrono::seconds(60));
  EXPECT_TRUE(t.entries.empty());
  EXPECT_EQ(t.covered_seconds, 0);
}

TEST(RateHistory, GrowthBetweenPublicationsIsBookedPerPair) {
  RateHistory h;
  Feed feed(h);
  feed.add(at(0, {flow(1, kFe, kCart, 5000, 5), flow(2, kCart, kDb, 100, 1)}));
  feed.add(at(1, {flow(1, kFe, kCart, 6000, 6), flow(2, kCart, kDb, 100, 1)}));
  feed.add(at(2, {flow(1, kFe, kCart, 8000, 8), flow(2, kCart, kDb, 400, 3), flow(3, kFe2, kCart, 300, 2)}));
  auto t = h.top(TopKey::kPair, TopBy::kBytes, 10, std::chrono::seconds(60));
  ASSERT_EQ(t.entries.size(), 2u);
  EXPECT_DOUBLE_EQ(t.covered_seconds, 2.0);
  // frontend-1 grew 3000 and the new flow of frontend-2 counts whole: 300.
  EXPECT_EQ(t.entries[0].key, "shop/frontend -> shop/cart");
  EXPECT_EQ(t.entries[0].src, "shop/frontend");
  EXPECT_EQ(t.entries[0].dst, "shop/cart");
  EXPECT_DOUBLE_EQ(t.entries[0].bytes, 3300);
  EXPECT_DOUBLE_EQ(t.entries[0].packets, 5);
  EXPECT_DOUBLE_EQ(bytes_of(t, "shop/cart -> data/postgres"), 300);
  EXPECT_EQ(t.groups, 2u);

  // The last second only.
  t = h.top(TopKey::kPair, TopBy::kBytes, 10, std::chrono::seconds(1));
  EXPECT_DOUBLE_EQ(t.covered_seconds, 1.0);
  EXPECT_DOUBLE_EQ(bytes_of(t, "shop/frontend -> shop/cart"), 2300);

  // Other keys group the same growth.
  t = h.top(TopKey::kSrcWorkload, TopBy::kBytes, 10, std::chrono::seconds(60));
  EXPECT_DOUBLE_EQ(bytes_of(t, "shop/frontend"), 3300);
  EXPECT_DOUBLE_EQ(bytes_of(t, "shop/cart"), 300);
  t = h.top(TopKey::kDstWorkload, TopBy::kBytes, 10, std::chrono::seconds(60));
  EXPECT_DOUBLE_EQ(bytes_of(t, "shop/cart"), 3300);
  EXPECT_DOUBLE_EQ(bytes_of(t, "data/postgres"), 300);
  t = h.top(TopKey::kNamespace, TopBy::kBytes, 10, std::chrono::seconds(60));
  ASSERT_EQ(t.entries.size(), 1u);
  EXPECT_DOUBLE_EQ(bytes_of(t, "shop"), 3600);
  t = h.top(TopKey::kPod, TopBy::kPackets, 1, std::chrono::seconds(60));
  ASSERT_EQ(t.entries.size(), 1u);
  EXPECT_EQ(t.entries[0].key, "shop/frontend-1");
  EXPECT_EQ(t.groups, 3u);
}

// Summing totals by group and subtracting would lose a connection that
// ended in between; growth booked when it happened stays, and what a flow
// grew between its last publication and its eviction is booked with the
// publication that reports the eviction.
TEST(RateHistory, AnEvictedFlowKeepsTheGrowthItHad) {
  RateHistory h;
  Feed feed(h);
  feed.add(at(0, {flow(1, kFe, kCart, 1000, 1), flow(2, kCart, kDb, 100, 1)}));
  feed.add(at(1, {flow(1, kFe, kCart, 9000, 9), flow(2, kCart, kDb, 100, 1)}));
  feed.add(at(2, {flow(2, kCart, kDb, 100, 1)}), {flow(1, kFe, kCart, 9500, 10)});  // evicted
  feed.add(at(3, {}));                                                              // and gone
  auto t = h.top(TopKey::kPair, TopBy::kBytes, 10, std::chrono::seconds(60));
  EXPECT_DOUBLE_EQ(bytes_of(t, "shop/frontend -> shop/cart"), 8500);
  EXPECT_DOUBLE_EQ(t.covered_seconds, 3.0);
  t = h.top(TopKey::kPair, TopBy::kBytes, 10, std::chrono::seconds(2));
  EXPECT_DOUBLE_EQ(bytes_of(t, "shop/frontend -> shop/cart"), 500);
  EXPECT_EQ(bytes_of(t, "shop/cart -> data/postgres"), -1);  // never grew after the baseline
}

TEST(RateHistory, AReusedIdWithANewFirstSeenIsANewFlow) {
  RateHistory h;
  Feed feed(h);
  feed.add(at(0, {flow(1, kFe, kCart, 9000, 9, /*first_seen=*/1)}));
  feed.add(at(1, {flow(1, kFe, kCart, 500, 1, /*first_seen=*/2)}));
  auto t = h.top(TopKey::kPair, TopBy::kBytes, 10, std::chrono::seconds(60));
  EXPECT_DOUBLE_EQ(bytes_of(t, "shop/frontend -> shop/cart"), 500);
}

TEST(RateHistory, OldGrowthAndUnusedNamesAreForgotten) {
  RateHistory h(std::chrono::seconds(10));
  Feed feed(h);
  feed.add(at(0, {flow(1, kFe, kCart, 0, 0)}));
  feed.add(at(1, {flow(1, kFe, kCart, 1000, 1)}));
  EXPECT_EQ(h.endpoints(), 2u);
  // 200 quiet publications later, only a new pair talks.
  std::vector<FlowView> later{flow(1, kFe, kCart, 1000, 1)};
  for (std::uint64_t s = 2; s < 200; ++s) {
    later.resize(1);
    later.push_back(flow(2, kCart, kDb, static_cast<double>(s), 1));
    feed.add(at(s, later));
  }
  auto t = h.top(TopKey::kPair, TopBy::kBytes, 10, std::chrono::seconds(10));
  EXPECT_EQ(bytes_of(t, "shop/frontend -> shop/cart"), -1);
  EXPECT_GT(bytes_of(t, "shop/cart -> data/postgres"), 0);
  EXPECT_LE(t.covered_seconds, 10.0);
  EXPECT_EQ(h.endpoints(), 2u);  // cart and postgres; frontend-1 went with its buckets
}

// Five minutes of publications, every second: old growth is kept in coarser
// buckets, and what a window sums stays what grew.
TEST(RateHistory, OldBucketsCoarsenWithoutLosingGrowth) {
  RateHistory h;
  Feed feed(h);
  for (std::uint64_t s = 0; s <= 400; ++s) feed.add(at(s, {flow(1, kFe, kCart, 1000.0 * static_cast<double>(s), 1)}));
  EXPECT_LE(h.buckets(), 40u);  // 10 fine, 10 of 5 s, 8 of 30 s and the edges, not 300
  EXPECT_GE(h.buckets(), 20u);
  auto t = h.top(TopKey::kPair, TopBy::kBytes, 10, std::chrono::seconds(10));
  EXPECT_DOUBLE_EQ(t.covered_seconds, 10.0);  // the last 10 s are per publication
  EXPECT_DOUBLE_EQ(bytes_of(t, "shop/frontend -> shop/cart"), 10000);
  for (auto w :
       {std::chrono::seconds(30), std::chrono::seconds(60), std::chrono::seconds(200), std::chrono::seconds(300)}) {
    t = h.top(TopKey::kPair, TopBy::kBytes, 10, w);
    // A coarse bucket may reach up to its width before the window's start:
    // the growth and the span measured grow together, 1000 B/s throughout.
    EXPECT_GE(t.covered_seconds, static_cast<double>(w.count())) << w.count();
    EXPECT_LE(t.covered_seconds, static_cast<double>(w.count()) + 30) << w.count();
    EXPECT_DOUBLE_EQ(bytes_of(t, "shop/frontend -> shop/cart"), 1000 * t.covered_seconds) << w.count();
  }
}

TEST(RateHistory, AClockSteppedBackStartsOver) {
  RateHistory h;
  Feed feed(h);
  feed.add(at(100, {flow(1, kFe, kCart, 1000, 1)}));
  feed.add(at(101, {flow(1, kFe, kCart, 2000, 2)}));
  feed.add(at(50, {flow(1, kFe, kCart, 3000, 3)}));  // wall clock stepped back
  auto t = h.top(TopKey::kPair, TopBy::kBytes, 10, std::chrono::seconds(60));
  EXPECT_TRUE(t.entries.empty());
  feed.add(at(51, {flow(1, kFe, kCart, 3500, 4)}));
  t = h.top(TopKey::kPair, TopBy::kBytes, 10, std::chrono::seconds(60));
  EXPECT_DOUBLE_EQ(bytes_of(t, "shop/frontend -> shop/cart"), 500);
  EXPECT_DOUBLE_EQ(t.covered_seconds, 1.0);
}

TEST(RateHistory, NonPodEndsGetTheReservedNames) {
  RateHistory h;
  Feed feed(h);
  Identity host{"node-a", "", "", "", "", ""};
  feed.add(at(0, {flow(1, kFe, Identity{}, 0, 0), flow(2, host, kFe, 0, 0)}));
  feed.add(at(1, {flow(1, kFe, Identity{}, 100, 1), flow(2, host, kFe, 50, 1)}));
  auto t = h.top(TopKey::kPair, TopBy::kBytes, 10, std::chrono::seconds(60));
  EXPECT_DOUBLE_EQ(bytes_of(t, "shop/frontend -> world"), 100);
  EXPECT_DOUBLE_EQ(bytes_of(t, "host -> shop/frontend"), 50);
}

}  // namespace
}  // namespace netring::agent::api
