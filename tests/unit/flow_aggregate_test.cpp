// Aggregation of flows by caller-defined groups, with identities looked up
// by the caller, and intervals that survive summing.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "pkg/flow/aggregate.hpp"
#include "pkg/flow/table.hpp"
#include "tests/testing/sampled_stream.hpp"

namespace {

using namespace netring::flow;
using netring::testing::SampledStream;

FlowKey key(std::uint8_t src_host, std::uint8_t dst_host, std::uint8_t proto, std::uint16_t sport) {
  FlowKey k;
  const std::uint8_t a[4] = {10, 0, 0, src_host}, b[4] = {10, 0, 0, dst_host};
  k.src = ipv4_address(a);
  k.dst = ipv4_address(b);
  k.family = 4;
  k.protocol = proto;
  k.src_port = sport;
  k.dst_port = 80;
  return k;
}

// 10.0.0.1-2 are "shop/frontend", 10.0.0.3 is "shop/db"; others are unknown.
std::string identity(const Address& a) {
  if (a[15] == 1 || a[15] == 2) return "shop/frontend";
  if (a[15] == 3) return "shop/db";
  return "";
}

FlowRecord record(double w, std::uint32_t ip_len, int samples, Direction d) {
  FlowRecord r;
  SampleInfo s;
  s.weight = w;
  s.direction = d;
  s.ifindex = 2;
  s.wire_len = ip_len + 14;
  for (int i = 0; i < samples; ++i) r.add(s, ip_len, 0, 1 + static_cast<std::uint64_t>(i));
  return r;
}

TEST(FlowAggregate, SumsByWorkloadPairWithVariances) {
  FlowSnapshot snap;
  snap.add(key(1, 3, 6, 1000), record(10, 100, 2, Direction::kEgress));
  snap.add(key(2, 3, 6, 1001), record(10, 200, 1, Direction::kEgress));
  snap.add(key(3, 1, 6, 80), record(10, 1000, 3, Direction::kIngress));
  snap.add(key(9, 3, 17, 53), record(1, 50, 4, Direction::kIngress));

  Aggregator agg(identity, group_by::workload_pair());
  agg.add(snap);
  const auto& g = agg.groups();
  ASSERT_EQ(g.size(), 3u);

  const GroupTotals& fe_db = g.at(GroupKey{"shop/frontend", "shop/db"});
  EXPECT_EQ(fe_db.flows, 2u);
  EXPECT_EQ(fe_db.samples, 3u);
  EXPECT_DOUBLE_EQ(fe_db.packets.value, 30);
  EXPECT_DOUBLE_EQ(fe_db.packets.variance, 3 * 90);
  EXPECT_DOUBLE_EQ(fe_db.bytes_l3.value, 10 * (100 + 100 + 200));
  EXPECT_DOUBLE_EQ(fe_db.bytes_l3.variance, 90.0 * (100 * 100 * 2 + 200 * 200));
  EXPECT_DOUBLE_EQ(fe_db.bytes_wire, 10 * (114 + 114 + 214));

  const GroupTotals& db_fe = g.at(GroupKey{"shop/db", "shop/frontend"});
  EXPECT_EQ(db_fe.flows, 1u);
  EXPECT_DOUBLE_EQ(db_fe.bytes_l3.value, 30'000);
  // Unknown addresses are a group of their own, not dropped.
  const GroupTotals& unknown = g.at(GroupKey{"", "shop/db"});
  EXPECT_DOUBLE_EQ(unknown.packets.value, 4);
  EXPECT_DOUBLE_EQ(unknown.packets.variance, 0) << "weight 1: exact";
}

TEST(FlowAggregate, ByProtocolAndByDirection) {
  FlowSnapshot snap;
  snap.add(key(1, 3, 6, 1000), record(2, 100, 1, Direction::kEgress));
  snap.add(key(2, 3, 17, 1001), record(2, 100, 1, Direction::kEgress));
  snap.add(key(3, 1, 6, 80), record(2, 100, 1, Direction::kIngress));
  FlowRecord both = record(2, 100, 1, Direction::kIngress);
  both.merge(record(2, 100, 1, Direction::kEgress));
  snap.add(key(4, 1, 6, 81), both);

  Aggregator by_proto(identity, group_by::protocol());
  by_proto.add(snap);
  ASSERT_EQ(by_proto.groups().size(), 2u);
  GroupKey tcp;
  tcp.protocol = 6;
  EXPECT_EQ(by_proto.groups().at(tcp).flows, 3u);

  Aggregator by_dir(nullptr, group_by::direction());
  by_dir.add(snap);
  GroupKey in, out, mixed;
  in.direction = Direction::kIngress;
  out.direction = Direction::kEgress;
  mixed.direction = Direction::kUnknown;
  EXPECT_EQ(by_dir.groups().at(in).flows, 1u);
  EXPECT_EQ(by_dir.groups().at(out).flows, 2u);
  EXPECT_EQ(by_dir.groups().at(mixed).flows, 1u);

  Aggregator custom(identity, [](const FlowRef& f) {
    GroupKey g;
    g.dst = f.dst_identity;
    g.ifindex = f.record.ifindex[0];
    return g;
  });
  custom.add(snap);
  EXPECT_EQ(custom.groups().size(), 2u);
}

// Sampled flows through worker tables, merged and aggregated: each group's
// 99% interval contains the group's true byte count in >= 97% of cases.
TEST(FlowAggregate, IntervalsSurviveAggregation) {
  constexpr int kTrials = 200;
  int contained = 0, groups = 0;
  for (int trial = 1; trial <= kTrials; ++trial) {
    SampledStream s(static_cast<std::uint64_t>(trial) * 104729, 40);
    FlowTableConfig cfg;
    cfg.max_bytes = 1 << 20;
    cfg.seed = 5;
    auto w0 = FlowTable::create(cfg), w1 = FlowTable::create(cfg);
    ASSERT_TRUE(w0.ok() && w1.ok());
    std::map<GroupKey, double> truth;
    for (int i = 0; i < 20'000; ++i) {
      const auto src = static_cast<std::uint8_t>(1 + s.raw() % 4);  // 4 hosts, 3 identities
      const auto sport = static_cast<std::uint16_t>(1000 + s.raw() % 30);
      ParsedPacket pkt;
      pkt.key = key(src, 3, 6, sport);
      const auto p = s.next_packet();
      pkt.ip_len = p.bytes - 14;
      truth[GroupKey{identity(pkt.key.src), "shop/db"}] += pkt.ip_len;
      double w;
      if (!s.sample(p, w)) continue;
      SampleInfo info;
      info.weight = w;
      info.timestamp_ns = 1 + static_cast<std::uint64_t>(i);
      info.wire_len = p.bytes;
      (sport % 2 ? *w0 : *w1).update(pkt, info);  // two workers
    }
    Aggregator agg(identity, group_by::workload_pair());
    agg.add(merge(*w0, *w1));
    for (const auto& [g, bytes] : truth) {
      ++groups;
      contained += agg.groups().at(g).bytes_l3.interval().contains(bytes);
    }
  }
  EXPECT_EQ(groups, kTrials * 3) << "frontend, db and unknown sources";
  std::printf("aggregated 99%% intervals containing the truth: %d of %d\n", contained, groups);
  EXPECT_GE(contained, groups * 97 / 100);
}

}  // namespace
