// The per-worker flow table: capacity, eviction order, timeouts against an
// injected clock, the memory cap under a flood, and merging worker tables.
#include <gtest/gtest.h>

#include <time.h>

#include <map>
#include <random>
#include <vector>

#include "pkg/flow/snapshot.hpp"
#include "pkg/flow/table.hpp"

namespace {

using namespace netring::flow;
constexpr std::uint64_t kSec = 1'000'000'000;

ParsedPacket packet(std::uint32_t n, std::uint16_t dport = 80, std::uint32_t ip_len = 100) {
  ParsedPacket p;
  const std::uint8_t a[4] = {10, static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8),
                             static_cast<std::uint8_t>(n)};
  const std::uint8_t b[4] = {10, 255, 0, 1};
  p.key.src = ipv4_address(a);
  p.key.dst = ipv4_address(b);
  p.key.family = 4;
  p.key.protocol = 6;
  p.key.src_port = static_cast<std::uint16_t>(1024 + n % 50000);
  p.key.dst_port = dport;
  p.ip_len = ip_len;
  p.l3_offset = 14;
  return p;
}

SampleInfo sample(std::uint64_t ts, double weight = 1.0, std::uint32_t ifindex = 3,
                  Direction dir = Direction::kIngress) {
  SampleInfo s;
  s.timestamp_ns = ts;
  s.weight = weight;
  s.ifindex = ifindex;
  s.direction = dir;
  s.wire_len = 114;
  return s;
}

struct Exported {
  std::vector<std::pair<FlowEntry, EndReason>> items;
  FlowTable::ExportFn fn() {
    return [this](const FlowEntry& e, EndReason r) { items.emplace_back(e, r); };
  }
};

FlowTable make(FlowTableConfig cfg, FlowTable::ExportFn fn = {}) {
  if (cfg.seed == 0) cfg.seed = 12345;
  auto t = FlowTable::create(std::move(cfg), std::move(fn));
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message());
  return std::move(t).value();
}

// Every flow the table holds is reachable by lookup, and size() is honest:
// catches a broken backward shift (an entry stranded behind a hole).
void expect_consistent(const FlowTable& t) {
  std::size_t n = 0;
  t.for_each([&](const FlowEntry& e) {
    ++n;
    const FlowRecord* r = t.find(e.key);
    ASSERT_NE(r, nullptr) << to_string(e.key);
    EXPECT_EQ(r, &e.record);
  });
  EXPECT_EQ(n, t.size());
}

// for_each prefetches entries a few occupied slots ahead of its calls: it
// must still visit every flow once, in slot order, at sizes around its
// look-ahead and well past it.
TEST(FlowTable, ForEachVisitsEveryFlowOnceInSlotOrder) {
  for (std::uint32_t flows : {0u, 1u, 7u, 8u, 9u, 17u, 5000u}) {
    FlowTableConfig cfg;
    cfg.max_flows = 8192;
    FlowTable t = make(cfg);
    for (std::uint32_t n = 0; n < flows; ++n) t.update(packet(n), sample(kSec + n));
    ASSERT_EQ(t.size(), flows);
    std::vector<const FlowEntry*> seen;
    t.for_each([&](const FlowEntry& e) { seen.push_back(&e); });
    ASSERT_EQ(seen.size(), flows);
    for (std::size_t i = 1; i < seen.size(); ++i) ASSERT_LT(seen[i - 1], seen[i]) << flows << " flows, call " << i;
    for (const FlowEntry* e : seen) EXPECT_EQ(t.find(e->key), &e->record);
  }
}

TEST(FlowTable, CapacityComesFromTheByteBudget) {
  FlowTableConfig cfg;
  cfg.max_bytes = 1 << 20;
  FlowTable t = make(cfg);
  EXPECT_LE(t.memory_bytes(), cfg.max_bytes);
  EXPECT_GT(t.memory_bytes(), cfg.max_bytes - 16 * (sizeof(FlowEntry) + 4)) << "the budget is used";
  EXPECT_EQ(t.slots() % 16, 0u);
  EXPECT_EQ(t.max_flows(), t.slots() * 3 / 4);

  for (std::uint32_t i = 0; i < t.max_flows(); ++i) t.update(packet(i), sample(1 + i));
  EXPECT_EQ(t.size(), t.max_flows());
  EXPECT_EQ(t.stats().evictions, 0u);
  for (std::uint32_t i = 0; i < t.max_flows(); ++i) ASSERT_NE(t.find(packet(i).key), nullptr) << i;
  expect_consistent(t);

  cfg.max_flows = 100;
  FlowTable small = make(cfg);
  EXPECT_EQ(small.max_flows(), 100u);
  EXPECT_EQ(small.slots(), 144u) << "100 flows at <= 3/4 load, in whole lines of tags";
  EXPECT_LT(small.memory_bytes(), t.memory_bytes());
}

TEST(FlowTable, RejectsBudgetsTooSmallToHoldATable) {
  FlowTableConfig cfg;
  cfg.max_bytes = 1000;
  auto t = FlowTable::create(cfg);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message().find("max_bytes"), std::string::npos);
  cfg.max_bytes = 1 << 20;
  cfg.eviction_window = 0;
  EXPECT_FALSE(FlowTable::create(cfg).ok());
}

TEST(FlowTable, SamplesOfOneFlowAccumulate) {
  FlowTable t = make({});
  ParsedPacket ack = packet(1, 80, 1500);
  ack.tcp_flags = 0x10;
  t.update(ack, sample(10 * kSec, 4.0, 3, Direction::kIngress));
  ParsedPacket syn = packet(1, 80, 60);
  syn.tcp_flags = 0x02;
  t.update(syn, sample(5 * kSec, 2.0, 7, Direction::kEgress));
  ParsedPacket tso = packet(1, 80, 0);  // IP total length 0: taken from the wire length
  tso.l3_offset = 18;
  SampleInfo s = sample(12 * kSec, 1.0, 3, Direction::kEgress);
  s.wire_len = 9018;
  t.update(tso, s);

  const FlowRecord* r = t.find(packet(1).key);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(r->samples, 3u);
  EXPECT_DOUBLE_EQ(r->packets, 7.0);
  EXPECT_DOUBLE_EQ(r->bytes_l3, 4.0 * 1500 + 2.0 * 60 + 9000);
  EXPECT_DOUBLE_EQ(r->bytes_wire, 4.0 * 114 + 2.0 * 114 + 9018);
  EXPECT_DOUBLE_EQ(r->var_packets, (16 - 4) + (4 - 2) + 0);
  EXPECT_DOUBLE_EQ(r->var_bytes_l3, 12.0 * 1500 * 1500 + 2.0 * 60 * 60);
  EXPECT_EQ(r->first_ns, 5 * kSec);
  EXPECT_EQ(r->last_ns, 12 * kSec);
  EXPECT_EQ(r->tcp_flags, 0x12);
  EXPECT_EQ(r->ifindex[0], 3u);
  EXPECT_EQ(r->directions(0), 1 | 2);
  EXPECT_EQ(r->ifindex[1], 7u);
  EXPECT_EQ(r->directions(1), 2);
  EXPECT_EQ(r->directions(2), 0);
  EXPECT_FALSE(r->interfaces_overflow());
}

TEST(FlowTable, InterfaceSlotsOverflowWithoutAllocating) {
  FlowRecord r;
  for (std::uint32_t i = 1; i <= 6; ++i) r.add(sample(i, 1.0, i), 100, 0, i);
  EXPECT_TRUE(r.interfaces_overflow());
  for (int i = 0; i < FlowRecord::kMaxInterfaces; ++i) EXPECT_EQ(r.ifindex[i], static_cast<std::uint32_t>(i + 1));
}

TEST(FlowTable, ExactLruEvictionOrderWithAFullWindow) {
  Exported ex;
  FlowTableConfig cfg;
  cfg.max_flows = 12;
  cfg.eviction_window = 1024;  // >= slots: every flow is a candidate
  FlowTable t = make(cfg, ex.fn());
  ASSERT_EQ(t.max_flows(), 12u);
  for (std::uint32_t i = 0; i < 12; ++i) t.update(packet(i), sample(100 + i));
  t.update(packet(0), sample(200));  // flow 0 is now the most recent
  t.update(packet(100), sample(201));
  ASSERT_EQ(ex.items.size(), 1u);
  EXPECT_EQ(ex.items[0].first.key, packet(1).key);
  EXPECT_EQ(ex.items[0].second, EndReason::kEvicted);
  t.update(packet(101), sample(202));
  t.update(packet(102), sample(203));
  ASSERT_EQ(ex.items.size(), 3u);
  EXPECT_EQ(ex.items[1].first.key, packet(2).key);
  EXPECT_EQ(ex.items[2].first.key, packet(3).key);
  EXPECT_NE(t.find(packet(0).key), nullptr);
  EXPECT_EQ(t.size(), 12u);
  EXPECT_EQ(t.stats().evictions, 3u);
  expect_consistent(t);
}

TEST(FlowTable, SampledEvictionPrefersOldFlows) {
  Exported ex;
  FlowTableConfig cfg;
  cfg.max_flows = 3000;  // 4000 slots
  cfg.eviction_window = 8;
  FlowTable t = make(cfg, ex.fn());
  for (std::uint32_t i = 0; i < 3000; ++i) t.update(packet(i), sample(1 + i));
  for (std::uint32_t i = 0; i < 500; ++i) t.update(packet(10000 + i), sample(10000 + i));
  ASSERT_EQ(ex.items.size(), 500u);
  std::size_t old_half = 0;
  for (const auto& [e, why] : ex.items) {
    EXPECT_EQ(why, EndReason::kEvicted);
    if (e.record.last_ns <= 1500) ++old_half;
  }
  // Random eviction would take half its victims from the older half; the
  // least recent of 8 nearby flows is there with p close to 1 - (2/3)^8 even
  // late in the flood, when the older half has thinned out.
  EXPECT_GE(old_half, 450u) << "eviction should pick old flows";
  expect_consistent(t);
}

TEST(FlowTable, MemoryCapHoldsUnderAFloodOfUniqueFlows) {
  Exported ex;
  FlowTableConfig cfg;
  cfg.max_bytes = 512 << 10;
  FlowTable t = make(cfg, ex.fn());
  const std::size_t mem = t.memory_bytes();
  const std::uint32_t flood = 256 * 1172;
  std::vector<ParsedPacket> pkts(256);
  std::vector<SampleInfo> infos(256);
  for (std::uint32_t base = 0; base < flood; base += 256) {
    for (std::uint32_t j = 0; j < 256; ++j) {
      pkts[j] = packet(base + j, static_cast<std::uint16_t>(j));
      infos[j] = sample(1 + base + j);
    }
    t.update_batch(pkts, infos);
    ASSERT_LE(t.size(), t.max_flows());
  }
  EXPECT_EQ(t.memory_bytes(), mem);
  EXPECT_LE(mem, cfg.max_bytes);
  EXPECT_EQ(t.size(), t.max_flows());
  EXPECT_EQ(t.stats().inserts, flood);
  EXPECT_EQ(t.stats().evictions, flood - t.max_flows());
  EXPECT_EQ(ex.items.size(), t.stats().evictions) << "every evicted record is exported";
  expect_consistent(t);
}

TEST(FlowTable, TimeoutsFollowTheInjectedClock) {
  Exported ex;
  std::uint64_t clock = 1 * kSec;
  FlowTableConfig cfg;
  cfg.idle_timeout_ns = 10 * kSec;
  cfg.active_timeout_ns = 60 * kSec;
  cfg.clock = [&clock] { return clock; };
  FlowTable t = make(cfg, ex.fn());

  t.update(packet(1), sample(0));  // no timestamp: the table's clock
  EXPECT_EQ(t.find(packet(1).key)->first_ns, 1 * kSec);
  clock = 5 * kSec;
  t.update(packet(1), sample(0));
  t.update(packet(2), sample(0));
  clock = 14 * kSec;
  EXPECT_EQ(t.expire(), 0u) << "idle for 9 s only";
  clock = 15 * kSec;
  EXPECT_EQ(t.expire(), 2u);
  ASSERT_EQ(ex.items.size(), 2u);
  for (const auto& [e, why] : ex.items) EXPECT_EQ(why, EndReason::kIdle);
  EXPECT_EQ(t.size(), 0u);

  // A flow that never idles is cut by the active timeout, then starts anew.
  ex.items.clear();
  for (clock = 20 * kSec; clock <= 79 * kSec; clock += 5 * kSec) {
    t.update(packet(3), sample(0));
    EXPECT_EQ(t.expire(), 0u) << clock;
  }
  clock = 80 * kSec;
  EXPECT_EQ(t.expire(), 1u);
  ASSERT_EQ(ex.items.size(), 1u);
  EXPECT_EQ(ex.items[0].second, EndReason::kActive);
  EXPECT_EQ(ex.items[0].first.record.samples, 12u);
  EXPECT_EQ(ex.items[0].first.record.first_ns, 20 * kSec);
  t.update(packet(3), sample(0));
  EXPECT_EQ(t.find(packet(3).key)->samples, 1u);
  EXPECT_EQ(t.stats().expired_idle, 2u);
  EXPECT_EQ(t.stats().expired_active, 1u);
}

TEST(FlowTable, IncrementalExpiryCoversTheTableAcrossCalls) {
  std::uint64_t clock = 1 * kSec;
  FlowTableConfig cfg;
  cfg.max_flows = 700;  // 944 slots
  cfg.idle_timeout_ns = 10 * kSec;
  cfg.clock = [&clock] { return clock; };
  FlowTable t = make(cfg);
  for (std::uint32_t i = 0; i < 700; ++i) t.update(packet(i), sample(0));
  clock = 20 * kSec;
  std::size_t removed = 0;
  for (int call = 0; call < 4; ++call) {
    removed += t.expire(t.slots() / 4);
    expect_consistent(t);
    if (call < 3) {
      EXPECT_GT(t.size(), 0u) << "a quarter of the slots per call";
    }
  }
  EXPECT_EQ(removed, 700u);
  EXPECT_EQ(t.size(), 0u);
}

TEST(FlowTable, ChurnKeepsEveryFlowReachable) {
  std::uint64_t clock = 0;
  FlowTableConfig cfg;
  cfg.max_flows = 200;  // 272 slots at 3/4 load: clusters form and break under churn
  cfg.idle_timeout_ns = 50;
  cfg.clock = [&clock] { return clock; };
  FlowTable t = make(cfg);
  std::mt19937 rng(7);
  std::map<std::uint32_t, std::uint64_t> last;  // model of live flows
  for (int step = 0; step < 20000; ++step) {
    clock = static_cast<std::uint64_t>(step);
    const std::uint32_t id = rng() % 400;
    t.update(packet(id), sample(clock));
    if (step % 97 == 0) {
      t.expire(64);
      expect_consistent(t);
    }
  }
  expect_consistent(t);
  EXPECT_LE(t.size(), 200u);
}

// The batch path (hash, prefetch, resume the probe where the tags pointed)
// must do exactly what one-at-a-time updates do, also when a batch repeats
// keys and evicts halfway through.
TEST(FlowTable, BatchUpdatesEqualSingleUpdates) {
  FlowTableConfig cfg;
  cfg.max_flows = 300;
  FlowTable batched = make(cfg), single = make(cfg);
  std::mt19937 rng(11);
  std::vector<ParsedPacket> pkts(64);
  std::vector<SampleInfo> infos(64);
  std::uint64_t ts = 1;
  for (int round = 0; round < 400; ++round) {
    for (std::size_t j = 0; j < 64; ++j) {
      pkts[j] = packet(rng() % 600, 80, 40 + rng() % 1400);
      infos[j] = sample(ts++, 1.0 + rng() % 8);
    }
    batched.update_batch(pkts, infos);
    for (std::size_t j = 0; j < 64; ++j) single.update(pkts[j], infos[j]);
  }
  ASSERT_GT(batched.stats().evictions, 1000u);
  EXPECT_EQ(batched.stats().evictions, single.stats().evictions);
  EXPECT_EQ(batched.size(), single.size());
  expect_consistent(batched);
  single.for_each([&](const FlowEntry& e) {
    const FlowRecord* r = batched.find(e.key);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->samples, e.record.samples);
    EXPECT_DOUBLE_EQ(r->bytes_l3, e.record.bytes_l3);
    EXPECT_EQ(r->first_ns, e.record.first_ns);
  });
}

// Same, on a table past the size at which update_batch() also prefetches
// each entry's second line (4 MiB): that path must change nothing either.
TEST(FlowTable, BatchUpdatesEqualSingleUpdatesOnALargeTable) {
  FlowTableConfig cfg;
  cfg.max_flows = 40'000;
  FlowTable batched = make(cfg), single = make(cfg);
  ASSERT_GT(batched.memory_bytes(), std::size_t{4} << 20);
  std::mt19937 rng(12);
  std::vector<ParsedPacket> pkts(64);
  std::vector<SampleInfo> infos(64);
  std::uint64_t ts = 1;
  for (int round = 0; round < 1500; ++round) {
    for (std::size_t j = 0; j < 64; ++j) {
      pkts[j] = packet(rng() % 50'000, 80, 40 + rng() % 1400);
      infos[j] = sample(ts++, 1.0 + rng() % 8);
    }
    batched.update_batch(pkts, infos);
    for (std::size_t j = 0; j < 64; ++j) single.update(pkts[j], infos[j]);
  }
  ASSERT_GT(batched.stats().evictions, 0u);
  EXPECT_EQ(batched.stats().evictions, single.stats().evictions);
  EXPECT_EQ(batched.size(), single.size());
  expect_consistent(batched);
  single.for_each([&](const FlowEntry& e) {
    const FlowRecord* r = batched.find(e.key);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->samples, e.record.samples);
    EXPECT_DOUBLE_EQ(r->bytes_l3, e.record.bytes_l3);
    EXPECT_EQ(r->first_ns, e.record.first_ns);
    EXPECT_EQ(r->last_ns, e.record.last_ns);
  });
}

TEST(FlowTable, MergeOfTwoWorkerTables) {
  FlowTable a = make({});
  FlowTable b = make({});
  a.update(packet(1), sample(10, 2.0, 3, Direction::kIngress));
  a.update(packet(2), sample(11, 1.0, 3, Direction::kIngress));
  b.update(packet(1), sample(5, 3.0, 4, Direction::kEgress));
  b.update(packet(3), sample(20, 1.0, 4, Direction::kEgress));

  FlowSnapshot s = merge(a, b);
  EXPECT_EQ(s.size(), 3u);
  const FlowRecord* r = s.find(packet(1).key);
  ASSERT_NE(r, nullptr);
  EXPECT_DOUBLE_EQ(r->packets, 5.0);
  EXPECT_DOUBLE_EQ(r->bytes_l3, 500.0);
  EXPECT_DOUBLE_EQ(r->var_packets, 2.0 + 6.0);
  EXPECT_EQ(r->samples, 2u);
  EXPECT_EQ(r->first_ns, 5u);
  EXPECT_EQ(r->last_ns, 10u);
  EXPECT_EQ(r->ifindex[0], 3u);
  EXPECT_EQ(r->directions(0), 1);
  EXPECT_EQ(r->ifindex[1], 4u);
  EXPECT_EQ(r->directions(1), 2);
  ASSERT_NE(s.find(packet(2).key), nullptr);
  ASSERT_NE(s.find(packet(3).key), nullptr);
  EXPECT_EQ(s.find(packet(4).key), nullptr);

  // Merging is order-independent and the tables are left as they were.
  FlowSnapshot s2 = merge(b, a);
  EXPECT_DOUBLE_EQ(s2.find(packet(1).key)->bytes_l3, r->bytes_l3);
  EXPECT_EQ(a.find(packet(1).key)->samples, 1u);
}

}  // namespace

namespace {

ExactCounts exact(std::uint64_t packets, std::uint64_t bytes, std::uint64_t first, std::uint64_t last,
                  std::uint8_t flags = 0) {
  ExactCounts c;
  c.packets = packets;
  c.bytes_l3 = bytes;
  c.wire_bytes = bytes + 14 * packets;
  c.first_ns = first;
  c.last_ns = last;
  c.max_seg_len = static_cast<std::uint32_t>(packets ? bytes / packets : 0);
  c.ifindex = 3;
  c.direction = Direction::kIngress;
  c.tcp_flags = flags;
  return c;
}

}  // namespace

// Exact counts from the kernel and samples of the same flow meet in one
// record: the counts add with no variance, a sample of a counted packet
// (weight 0) adds only what it shows, a sample standing for uncounted
// packets adds its estimate and variance.
TEST(FlowTable, ExactCountsAndSamplesOfOneFlowMeetInOneRecord) {
  FlowTable t = make({});
  t.update_exact(packet(1).key, exact(45, 45 * 1400, 5 * kSec, 6 * kSec, 0x10));
  t.update(packet(1, 80, 1400), sample(7 * kSec, 0.0));  // copy of a counted packet
  t.update_exact(packet(1).key, exact(90, 90 * 1400, 7 * kSec, 8 * kSec, 0x18));
  t.update(packet(1, 80, 100), sample(9 * kSec, 10.0));  // an uncounted packet at 1:10
  const FlowRecord* r = t.find(packet(1).key);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_DOUBLE_EQ(r->packets, 135 + 10);
  EXPECT_DOUBLE_EQ(r->bytes_l3, 135.0 * 1400 + 10 * 100);
  EXPECT_DOUBLE_EQ(r->bytes_wire, 135.0 * (1400 + 14) + 10 * 114);
  EXPECT_DOUBLE_EQ(r->var_packets, 90);  // only the weighted sample: w^2 - w
  EXPECT_DOUBLE_EQ(r->var_bytes_l3, 90.0 * 100 * 100);
  EXPECT_EQ(r->samples, 2u);
  EXPECT_EQ(r->first_ns, 5 * kSec);
  EXPECT_EQ(r->last_ns, 9 * kSec);
  EXPECT_EQ(r->tcp_flags, 0x18);
  EXPECT_EQ(r->max_seg_len(), 1408u) << "the exact counts' segment size, in 64-byte units";
  EXPECT_EQ(t.stats().exact_updates, 2u);

  // Exact counts alone: a flow no sample showed.
  t.update_exact(packet(2).key, exact(3, 300, 1, 2));
  ASSERT_NE(t.find(packet(2).key), nullptr);
  EXPECT_DOUBLE_EQ(t.find(packet(2).key)->var_bytes_l3, 0);
  EXPECT_EQ(t.find(packet(2).key)->samples, 0u);
}

// While the owner cannot take ended flows (allow_eviction(false)), a full
// table takes nothing in and evicts nothing: new flows' counts go to the
// overflow record, and no count is lost.
TEST(FlowTable, FullTableWithoutEvictionCountsNewFlowsInTheOverflowRecord) {
  Exported ex;
  FlowTableConfig cfg;
  cfg.max_flows = 16;
  FlowTable t = make(cfg, ex.fn());
  for (std::uint32_t i = 0; i < t.max_flows(); ++i) t.update(packet(i), sample(kSec, 2.0));
  t.allow_eviction(false);
  t.update(packet(1000), sample(2 * kSec, 2.0));
  t.update_exact(packet(1001).key, exact(5, 500, kSec, 2 * kSec));
  t.update(packet(3), sample(2 * kSec, 2.0));  // a flow the table has: counted there
  EXPECT_TRUE(ex.items.empty());
  EXPECT_EQ(t.size(), t.max_flows());
  EXPECT_EQ(t.find(packet(1000).key), nullptr);
  EXPECT_DOUBLE_EQ(t.overflow().packets, 2 + 5);
  EXPECT_DOUBLE_EQ(t.overflow().bytes_l3, 2 * 100 + 500);
  EXPECT_EQ(t.stats().overflow_updates, 2u);
  EXPECT_DOUBLE_EQ(t.find(packet(3).key)->packets, 4);
  double total = t.overflow().packets;
  t.for_each([&](const FlowEntry& e) { total += e.record.packets; });
  EXPECT_DOUBLE_EQ(total, 2.0 * t.max_flows() + 2 + 2 + 5);

  t.allow_eviction(true);
  t.update(packet(1002), sample(3 * kSec, 2.0));
  EXPECT_EQ(ex.items.size(), 1u);
  EXPECT_NE(t.find(packet(1002).key), nullptr);
}

TEST(FlowTable, ExpiryExportsNoMoreThanItIsAllowedAndResumesWhereItStopped) {
  Exported ex;
  std::uint64_t clock = kSec;
  FlowTableConfig cfg;
  cfg.idle_timeout_ns = 10 * kSec;
  cfg.clock = [&clock] { return clock; };
  FlowTable t = make(cfg, ex.fn());
  for (std::uint32_t i = 0; i < 50; ++i) t.update(packet(i), sample(kSec));
  clock = 20 * kSec;
  EXPECT_EQ(t.expire(SIZE_MAX, 7), 7u);
  EXPECT_EQ(ex.items.size(), 7u);
  EXPECT_EQ(t.expire(SIZE_MAX, 0), 0u);
  EXPECT_EQ(t.expire(SIZE_MAX, 100), 43u);
  EXPECT_EQ(t.size(), 0u);
}

// Expiry runs on CLOCK_MONOTONIC by default, the clock the sampler and the
// mirror stamp: a wall-clock step cannot freeze or mass-expire flows.
TEST(FlowTable, DefaultClockIsMonotonic) {
  FlowTable t = make({});
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const std::uint64_t before = static_cast<std::uint64_t>(ts.tv_sec) * kSec + static_cast<std::uint64_t>(ts.tv_nsec);
  t.update(packet(1), sample(0));  // no timestamp: the table's clock
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const std::uint64_t after = static_cast<std::uint64_t>(ts.tv_sec) * kSec + static_cast<std::uint64_t>(ts.tv_nsec);
  const std::uint64_t got = t.find(packet(1).key)->first_ns;
  EXPECT_GE(got, before);
  EXPECT_LE(got, after);
}
