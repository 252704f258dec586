// Flow metrics: labels per level, monotonic counters across evictions, the
// series cap, removal of deleted pods' series, and the whole exposition
// checked by the real `promtool check metrics`.
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "agent/k8s/index.hpp"
#include "agent/k8s/sax.hpp"
#include "agent/metrics/agent_metrics.hpp"
#include "agent/metrics/metrics_server.hpp"
#include "tests/testing/k8s_objects.hpp"
#include "tests/testing/netns.hpp"

namespace netring::agent::metrics {
namespace {

Identity pod_id(std::string ns, std::string workload, std::string pod, std::string node = "node-a") {
  return Identity{std::move(node), std::move(ns), std::move(workload), "Deployment", std::move(pod), ""};
}

FlowView make_flow(std::uint64_t id, Identity src, Identity dst, double packets, double bytes) {
  FlowView f;
  f.id = id;
  f.src = *IpAddress::parse("10.0.0.1");
  f.dst = *IpAddress::parse("10.0.0.2");
  f.src_port = 40000;
  f.dst_port = 80;
  f.protocol = IPPROTO_TCP;
  f.direction = FlowDirection::kEgress;
  f.reporter = Reporter::kSource;
  f.src_id = std::move(src);
  f.dst_id = std::move(dst);
  f.packets = packets;
  f.bytes = bytes;
  f.samples = 1;
  f.first_seen_ns = 1000 + id;
  f.start_mono_ns = 1000 + id;
  f.last_seen_ns = 2000 + id;
  return f;
}

// The value of one series in a text exposition; NaN when absent.
double value_of(const std::string& expo, const std::string& name, const prometheus::Labels& labels) {
  std::string prefix = name;
  if (!labels.empty()) {
    prefix += "{";
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!first) prefix += ",";
      first = false;
      prefix += k + "=\"" + v + "\"";
    }
    prefix += "}";
  }
  prefix += " ";
  std::istringstream in(expo);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0) return std::stod(line.substr(prefix.size()));
  return std::nan("");
}

prometheus::Labels wl_labels(const char* src_wl, const char* dst_wl) {
  return {{"src_namespace", "shop"}, {"src_workload", src_wl}, {"dst_namespace", "shop"}, {"dst_workload", dst_wl},
          {"direction", "egress"},   {"protocol", "tcp"},      {"reporter", "source"}};
}

TEST(LabelLevel, ParsesEachLevelAndRejectsOthers) {
  EXPECT_EQ(parse_label_level("node"), LabelLevel::kNode);
  EXPECT_EQ(parse_label_level("namespace"), LabelLevel::kNamespace);
  EXPECT_EQ(parse_label_level("workload"), LabelLevel::kWorkload);
  EXPECT_EQ(parse_label_level("pod"), LabelLevel::kPod);
  EXPECT_FALSE(parse_label_level("Pod"));
  EXPECT_FALSE(parse_label_level(""));
}

TEST(LabelLevel, BuildsTheLabelsOfEachLevel) {
  FlowView f = make_flow(1, pod_id("shop", "frontend", "frontend-7d9f-abcde", "node-a"),
                         pod_id("db", "postgres", "postgres-0", "node-b"), 1, 100);
  f.protocol = IPPROTO_UDP;
  f.direction = FlowDirection::kIngress;
  f.reporter = Reporter::kDestination;
  const prometheus::Labels common{{"direction", "ingress"}, {"protocol", "udp"}, {"reporter", "destination"}};
  auto with = [&](prometheus::Labels l) {
    l.insert(common.begin(), common.end());
    return l;
  };
  EXPECT_EQ(flow_labels(LabelLevel::kNode, f), with({{"src_node", "node-a"}, {"dst_node", "node-b"}}));
  EXPECT_EQ(flow_labels(LabelLevel::kNamespace, f), with({{"src_namespace", "shop"}, {"dst_namespace", "db"}}));
  EXPECT_EQ(flow_labels(LabelLevel::kWorkload, f), with({{"src_namespace", "shop"},
                                                         {"src_workload", "frontend"},
                                                         {"dst_namespace", "db"},
                                                         {"dst_workload", "postgres"}}));
  EXPECT_EQ(flow_labels(LabelLevel::kPod, f), with({{"src_namespace", "shop"},
                                                    {"src_pod", "frontend-7d9f-abcde"},
                                                    {"dst_namespace", "db"},
                                                    {"dst_pod", "postgres-0"}}));
}

TEST(LabelLevel, NonPodEndpointsGetReservedNames) {
  Identity world;
  Identity host{"node-a", "", "", "", "", ""};
  Identity svc{"", "shop", "", "", "", "cart"};
  EXPECT_EQ(endpoint_labels(world).workload, "world");
  EXPECT_EQ(endpoint_labels(world).node, "world");
  EXPECT_EQ(endpoint_labels(host).workload, "host");
  EXPECT_EQ(endpoint_labels(host).node, "node-a");
  EXPECT_EQ(endpoint_labels(svc).workload, "service/cart");
  EXPECT_EQ(endpoint_labels(svc).ns, "shop");
  // A bare pod (no controller) is its own workload.
  Identity bare{"node-a", "shop", "", "Pod", "debug", ""};
  EXPECT_EQ(endpoint_labels(bare).workload, "debug");
}

TEST(FlowMetrics, CountersStayMonotonicAcrossEviction) {
  SnapshotStore store;
  AgentMetrics m(store, {LabelLevel::kWorkload, 1000, std::chrono::seconds(60)});
  Identity fe = pod_id("shop", "frontend", "fe-1"), be = pod_id("shop", "backend", "be-1");

  // Two flows of the same workload pair.
  std::vector<FlowView> live{make_flow(1, fe, be, 10, 1000), make_flow(2, fe, be, 5, 500)};
  m.update_flows(live);
  EXPECT_DOUBLE_EQ(value_of(m.expose(), "netring_flow_bytes_total", wl_labels("frontend", "backend")), 1500);

  // Flow 1 grows, then is evicted with its final totals; flow 2 stays.
  live[0].bytes = 1200;
  live[0].packets = 12;
  m.update_flows(live);
  EXPECT_DOUBLE_EQ(value_of(m.expose(), "netring_flow_bytes_total", wl_labels("frontend", "backend")), 1700);

  FlowView final1 = live[0];
  final1.bytes = 1300;
  final1.packets = 13;
  std::vector<FlowView> still{live[1]};
  m.update_flows(still, std::span<const FlowView>(&final1, 1));
  std::string expo = m.expose();
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_flow_bytes_total", wl_labels("frontend", "backend")), 1800);
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_flow_packets_total", wl_labels("frontend", "backend")), 18);

  // The key is reused by a new flow (new first_seen): it starts from zero, and
  // the counter only grows by what the new flow adds.
  FlowView reborn = make_flow(1, fe, be, 2, 80);
  reborn.first_seen_ns = 99999;
  reborn.start_mono_ns = 99999;
  std::vector<FlowView> live2{live[1], reborn};
  m.update_flows(live2);
  EXPECT_DOUBLE_EQ(value_of(m.expose(), "netring_flow_bytes_total", wl_labels("frontend", "backend")), 1880);

  // A flow born and evicted between two publications still counts, once.
  FlowView brief = make_flow(3, fe, be, 1, 20);
  m.update_flows(live2, std::span<const FlowView>(&brief, 1));
  m.update_flows(live2);
  EXPECT_DOUBLE_EQ(value_of(m.expose(), "netring_flow_bytes_total", wl_labels("frontend", "backend")), 1900);

  // Everything evicted, nothing reported: the counter keeps its value.
  m.update_flows({});
  EXPECT_DOUBLE_EQ(value_of(m.expose(), "netring_flow_bytes_total", wl_labels("frontend", "backend")), 1900);
}

// The tracker matches a publication's flows with what it reported by one
// merge over both sorted by flow, whatever order the tables hand them in:
// thousands of flows, shuffled anew each round, some leaving and coming back
// as new flows, must add up to exactly what they grew by. Its working
// arrays are kept between rounds; a round with far fewer flows must not
// carry the old ones over.
TEST(FlowMetrics, ThousandsOfShuffledFlowsAddUpAcrossRounds) {
  SnapshotStore store;
  AgentMetrics m(store, {LabelLevel::kWorkload, 1000, std::chrono::seconds(60)});
  const Identity fe = pod_id("shop", "frontend", "fe-1"), be = pod_id("shop", "backend", "be-1");
  constexpr std::uint64_t kFlows = 5000;
  std::vector<FlowView> live;
  for (std::uint64_t id = 1; id <= kFlows; ++id) live.push_back(make_flow(id * 0x9e3779b97f4a7c15ull, fe, be, 1, 10));
  std::mt19937_64 rng(7);
  double expected = 0;
  for (const FlowView& f : live) expected += f.bytes;
  for (int round = 0; round < 6; ++round) {
    std::shuffle(live.begin(), live.end(), rng);
    if (round == 3) {
      // Half leave without an eviction record (all of their growth was
      // reported) and come back as new flows under the same ids.
      m.update_flows(std::span<const FlowView>(live.data(), live.size() / 2));
      for (std::size_t i = live.size() / 2; i < live.size(); ++i) {
        live[i].start_mono_ns += 1'000'000;
        live[i].bytes = 3;
        expected += 3;
      }
    }
    for (std::size_t i = 0; i < live.size(); ++i) {
      if (i % 3 == 0) continue;  // a third does not grow this round
      live[i].bytes += static_cast<double>(i % 7 + 1);
      live[i].packets += 1;
      expected += static_cast<double>(i % 7 + 1);
    }
    m.update_flows(live);
    ASSERT_DOUBLE_EQ(value_of(m.expose(), "netring_flow_bytes_total", wl_labels("frontend", "backend")), expected)
        << "round " << round;
  }
  // Ten flows left: one of them grows by 1, the rest of the old flows are gone.
  std::vector<FlowView> few(live.begin(), live.begin() + 10);
  few[0].bytes += 1;
  m.update_flows(few);
  EXPECT_DOUBLE_EQ(value_of(m.expose(), "netring_flow_bytes_total", wl_labels("frontend", "backend")), expected + 1);
  // A flow that was forgotten comes back with its old totals: it is a flow
  // the tracker no longer knows, so all of it counts again (as after an eviction).
  few.push_back(live[10]);
  m.update_flows(few);
  EXPECT_DOUBLE_EQ(value_of(m.expose(), "netring_flow_bytes_total", wl_labels("frontend", "backend")),
                   expected + 1 + live[10].bytes);
}

// A series is looked up by a key written from the identities (not from the
// labels, which are built only for a new series): two flows share a series
// exactly when their labels are the same, at every level, for every kind of
// endpoint, and likewise the drop and retransmit series.
TEST(FlowMetrics, FlowsShareASeriesExactlyWhenTheirLabelsAreEqual) {
  const std::vector<Identity> ids = {
      pod_id("shop", "frontend", "fe-1"),
      pod_id("shop", "frontend", "fe-2"),                  // same workload, another pod
      pod_id("shop", "frontend", "fe-1", "node-b"),        // same pod name on another node
      pod_id("db", "frontend", "fe-1"),                    // same names in another namespace
      Identity{"node-a", "shop", "", "Pod", "debug", ""},  // bare pod: its own workload
      Identity{"node-a", "", "", "", "", ""},              // host
      Identity{"node-b", "", "", "", "", ""},              // another host
      Identity{},                                          // world
      Identity{"", "shop", "", "", "", "cart"},            // service nobody resolved
      Identity{"", "shop", "", "", "", "host"},            // a service named like a reserved name
  };
  for (LabelLevel level : {LabelLevel::kNode, LabelLevel::kNamespace, LabelLevel::kWorkload, LabelLevel::kPod}) {
    SnapshotStore store;
    AgentMetrics m(store, {level, 100000, std::chrono::seconds(60)});
    std::vector<FlowView> flows;
    std::set<prometheus::Labels> flow_sets, drop_sets, pair_sets;
    for (const auto& a : ids)
      for (const auto& b : ids)
        for (std::uint8_t proto : {std::uint8_t{IPPROTO_TCP}, std::uint8_t{IPPROTO_UDP}, std::uint8_t{47}})
          for (FlowDirection dir : {FlowDirection::kEgress, FlowDirection::kIngress}) {
            FlowView f = make_flow(flows.size() + 1, a, b, 1, 100);
            f.protocol = proto;
            f.direction = dir;
            flows.push_back(f);
            flow_sets.insert(flow_labels(level, f));
            m.kernel_events().add_drops("NO_SOCKET", true, a, b, proto, 1);
            m.kernel_events().add_retransmits(a, b, 1);
            prometheus::Labels d = pair_labels(level, a, b);
            d.emplace("protocol", protocol_name(proto));
            drop_sets.insert(d);
            pair_sets.insert(pair_labels(level, a, b));
          }
    m.kernel_events().add_drops("NO_SOCKET", false, {}, {}, 0, 1);
    m.update_flows(flows);
    SCOPED_TRACE(to_string(level));
    EXPECT_EQ(m.flows().series(), 2 * flow_sets.size());
    EXPECT_EQ(m.kernel_events().series(), drop_sets.size() + 1 + pair_sets.size());
    EXPECT_GT(flow_sets.size(), 10u);  // the identities differ at each level
  }
}

TEST(FlowMetrics, CountsTcpFlagsOncePerFlowAndIcmpByType) {
  SnapshotStore store;
  AgentMetrics m(store, {});
  FlowView f = make_flow(1, pod_id("shop", "a", "a-1"), pod_id("shop", "b", "b-1"), 1, 60);
  f.tcp_flags = 0x02;  // SYN
  std::vector<FlowView> live{f};
  m.update_flows(live);
  live[0].tcp_flags = 0x12;  // SYN|ACK
  live[0].packets = 3;
  m.update_flows(live);
  live[0].packets = 4;  // no new flag
  m.update_flows(live);
  FlowView icmp = make_flow(2, pod_id("shop", "a", "a-1"), pod_id("shop", "b", "b-1"), 4, 336);
  icmp.protocol = IPPROTO_ICMP;
  icmp.icmp_type = 8;
  live.push_back(icmp);
  m.update_flows(live);
  std::string expo = m.expose();
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_tcp_flags_total", {{"flag", "syn"}}), 1);
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_tcp_flags_total", {{"flag", "ack"}}), 1);
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_tcp_flags_total", {{"flag", "rst"}}), 0);
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_icmp_packets_total", {{"protocol", "icmp"}, {"type", "8"}}), 4);
}

TEST(FlowMetrics, SeriesCapDropsNewLabelSetsAndCountsThem) {
  SnapshotStore store;
  // 6 series = 3 label sets (bytes + packets each).
  AgentMetrics m(store, {LabelLevel::kPod, 6, std::chrono::seconds(60)});
  std::vector<FlowView> live;
  for (int i = 0; i < 5; ++i)
    live.push_back(
        make_flow(i + 1, pod_id("shop", "fe", "fe-" + std::to_string(i)), pod_id("shop", "be", "be-0"), 1, 100));
  m.update_flows(live);
  EXPECT_EQ(m.flows().series(), 6u);
  std::string expo = m.expose();
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_flow_series_dropped_total", {}), 2);
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_flow_series", {{"label_level", "pod"}}), 6);
  // Existing series keep counting under the cap.
  for (auto& f : live) f.bytes = 300;
  m.update_flows(live);
  expo = m.expose();
  prometheus::Labels l0{{"src_namespace", "shop"}, {"src_pod", "fe-0"}, {"dst_namespace", "shop"}, {"dst_pod", "be-0"},
                        {"direction", "egress"},   {"protocol", "tcp"}, {"reporter", "source"}};
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_flow_bytes_total", l0), 300);
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_flow_series_dropped_total", {}), 4);
  std::size_t n = 0;
  for (std::size_t p = expo.find("netring_flow_bytes_total{"); p != std::string::npos;
       p = expo.find("netring_flow_bytes_total{", p + 1))
    ++n;
  EXPECT_EQ(n, 3u);
}

TEST(FlowMetrics, DeletedPodSeriesGoAfterTheGracePeriod) {
  SnapshotStore store;
  AgentMetrics m(store, {LabelLevel::kPod, 1000, std::chrono::seconds(60)});
  std::vector<FlowView> live{make_flow(1, pod_id("shop", "fe", "fe-0"), pod_id("shop", "be", "be-0"), 1, 100),
                             make_flow(2, pod_id("shop", "fe", "fe-1"), pod_id("shop", "be", "be-0"), 1, 100),
                             make_flow(3, pod_id("shop", "be", "be-0"), pod_id("shop", "fe", "fe-0"), 1, 100)};
  m.update_flows(live);
  ASSERT_EQ(m.flows().series(), 6u);

  auto t0 = FlowMetrics::Clock::time_point{} + std::chrono::hours(1);
  m.flows().pod_deleted("shop", "fe-0", t0);
  EXPECT_EQ(m.flows().expire(t0 + std::chrono::seconds(59)), 0u);
  EXPECT_EQ(m.flows().series(), 6u);
  EXPECT_EQ(m.flows().expire(t0 + std::chrono::seconds(60)), 4u);  // fe-0 as source and as destination
  EXPECT_EQ(m.flows().series(), 2u);
  std::string expo = m.expose();
  EXPECT_EQ(expo.find("\"fe-0\""), std::string::npos);
  EXPECT_NE(expo.find("\"fe-1\""), std::string::npos);
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_flow_series_removed_total", {}), 4);

  // A pod that comes back within the grace period keeps its series.
  m.flows().pod_deleted("shop", "fe-1", t0);
  m.flows().pod_restored("shop", "fe-1");
  EXPECT_EQ(m.flows().expire(t0 + std::chrono::hours(1)), 0u);
  EXPECT_EQ(m.flows().series(), 2u);
}

// Drop, retransmit, DNS and TCP handshake series name pods too (label level
// pod): a deleted pod's go with its flow series, the others stay.
TEST(FlowMetrics, AGonePodsKernelEventAndControlSeriesGoToo) {
  SnapshotStore store;
  AgentMetrics m(store, {LabelLevel::kPod, 1000, std::chrono::seconds(60)});
  const Identity fe0 = pod_id("shop", "fe", "fe-0"), fe1 = pod_id("shop", "fe", "fe-1"),
                 dns = pod_id("kube-system", "coredns", "coredns-0");
  m.kernel_events().add_drops("NO_SOCKET", true, fe0, dns, IPPROTO_UDP, 3);
  m.kernel_events().add_drops("NO_SOCKET", true, fe1, dns, IPPROTO_UDP, 1);
  m.kernel_events().add_retransmits(dns, fe0, 2);
  m.control().dns_query(fe0, dns, "cart.shop.svc.cluster.local");
  m.control().dns_answered(fe0, dns, "cart.shop.svc.cluster.local", 0.001);
  m.control().tcp_attempt(fe1, dns);
  const std::size_t kernel = m.kernel_events().series(), control = m.control().series();
  ASSERT_EQ(kernel, 3u);
  m.update_flows({}, {}, std::vector<std::string>{"shop/fe-0"});
  EXPECT_EQ(m.kernel_events().series(), 1u);
  EXPECT_EQ(m.control().series(), 1u) << "fe-1's connection attempts stay";
  const std::string expo = m.expose();
  EXPECT_EQ(expo.find("\"fe-0\""), std::string::npos) << expo;
  EXPECT_NE(expo.find("\"fe-1\""), std::string::npos) << expo;
  EXPECT_GT(control, 1u);
  // The name comes back with new traffic (a new pod of the same name).
  m.kernel_events().add_drops("NO_SOCKET", true, fe0, dns, IPPROTO_UDP, 1);
  store.publish(AgentSnapshot{});  // the publisher's next round: the exposition is rendered again
  EXPECT_NE(m.expose().find("\"fe-0\""), std::string::npos);
}

// Query names stay out of the DNS metrics unless asked (--dns-qname-label).
TEST(ControlMetrics, QueryNamesLabelTheDnsMetricsOnlyWhenAsked) {
  const Identity fe = pod_id("shop", "fe", "fe-0"), dns = pod_id("kube-system", "coredns", "coredns-0");
  for (bool on : {false, true}) {
    SnapshotStore store;
    FlowMetricsOptions o{LabelLevel::kWorkload, 1000, std::chrono::seconds(60)};
    o.dns_qname_label = on;
    AgentMetrics m(store, o);
    m.control().dns_query(fe, dns, "cart.shop.svc.cluster.local");
    m.control().dns_query(fe, dns, "db.data.svc.cluster.local");
    m.control().dns_response(fe, dns, "db.data.svc.cluster.local", 3);
    m.control().dns_timeout(fe, dns, "");
    const std::string expo = m.expose();
    EXPECT_EQ(m.control().series(), on ? 4u : 3u) << expo;
    EXPECT_EQ(expo.find("qname=\"db.data.svc.cluster.local\"") != std::string::npos, on) << expo;
    EXPECT_EQ(expo.find("qname=\"(unknown)\"") != std::string::npos, on) << expo;
    EXPECT_EQ(expo.find("qname=") != std::string::npos, on) << expo;
  }
}

// What the publisher does each second: take the pods the index dropped, then
// resolve the flows' addresses through the index, then update the counters.
// A deleted pod whose flow is still live keeps its series through the grace
// period (the index still names it), and loses them once the index drops it;
// the still-live flow then resolves to no pod and does not bring them back.
TEST(FlowMetrics, PodDeletedInTheIndexLosesItsSeriesAfterTheGracePeriod) {
  using std::chrono::seconds;
  namespace fx = netring::testing::k8s;
  auto pod_object = [](const char* name, const char* ip) {
    auto ev = k8s::parse_watch_event(fx::watch_line("ADDED", fx::pod({.name = name, .ips = {ip}})));
    EXPECT_TRUE(ev.ok());
    return std::move(ev)->object;
  };
  k8s::Index index({.pod_grace = seconds(5)});
  auto t0 = k8s::Index::Clock::now();
  k8s::Object eph = pod_object("ephemeral", "10.0.0.3");
  k8s::Object srv = pod_object("server-0", "10.0.0.2");
  index.upsert(k8s::ResourceKind::kPod, eph, t0);
  index.upsert(k8s::ResourceKind::kPod, srv, t0);

  SnapshotStore store;
  AgentMetrics m(store, {LabelLevel::kPod, 1000, seconds(5)});
  std::uint64_t cursor = 0;
  auto resolve = [&](const char* ip) {
    Identity id;
    if (auto ref = index.lookup(*IpAddress::parse(ip))) {
      id.ns = ref->namespace_;
      id.pod = ref->name;
    }
    return id;
  };
  double bytes = 0;
  auto publish = [&] {
    std::vector<std::string> gone = index.pods_gone_since(cursor);
    bytes += 100;  // the flow stays live and keeps growing
    std::vector<FlowView> live{make_flow(1, resolve("10.0.0.3"), resolve("10.0.0.2"), bytes / 100, bytes)};
    m.update_flows(live, {}, gone);
  };
  auto exported = [&] { return m.expose().find("\"ephemeral\"") != std::string::npos; };

  publish();
  ASSERT_TRUE(exported());
  index.remove(k8s::ResourceKind::kPod, eph, t0 + seconds(1));  // the DELETED event
  index.expire(t0 + seconds(5));
  publish();
  EXPECT_TRUE(exported()) << "removed before the grace period ended";
  index.expire(t0 + seconds(6));
  publish();
  EXPECT_FALSE(exported()) << "series of the deleted pod still exported after the grace period";
  EXPECT_DOUBLE_EQ(value_of(m.expose(), "netring_flow_series_removed_total", {}), 2);
  publish();  // the flow is still live: it must not re-create the pod's series
  EXPECT_FALSE(exported());
  EXPECT_NE(m.expose().find("\"server-0\""), std::string::npos);
}

AgentSnapshot full_snapshot() {
  AgentSnapshot s;
  s.interfaces = {{7, "veth1a2b", "pod", "afxdp", "tcx", 10, 1000, 20, 2000},
                  {2, "eth0", "physical", "afxdp", "tcx", 100, 100000, 200, 200000}};
  AgentStatus& st = s.status;
  st.version = "0.1.0";
  st.ready = true;
  st.backend = "afpacket";
  st.backend_reason = "AF_XDP socket: EPERM";
  st.kernel_features = {{"tcx", true}, {"afxdp", false}};
  st.fallbacks = {{"backend", "afpacket", "AF_XDP socket: EPERM"}};
  st.samples_received = 12345;
  st.losses = {{"sampler", "sequence_gap", 3},
               {"xdp", "xsk_ring_full", 4},
               {"xdp", "fill_ring_empty", 5},
               {"worker", "table_full", 6}};
  st.parse_errors = {{"truncated", 2}, {"unknown_ethertype", 1}};
  st.active_flows = 42;
  st.flow_evictions = 7;
  st.watches = {{"pods", true, true, 1700000000000000000ull, 1, 0, 0}};
  st.kube_index.pods = 12;
  st.kube_index.pods_in_grace = 3;
  st.kube_index.ips = 15;
  st.kube_index.evicted = 2;
  return s;
}

TEST(KernelEventMetrics, DropsByReasonAndRetransmitsByWorkloadPassPromtool) {
  SnapshotStore store;
  AgentMetrics m(store, {LabelLevel::kWorkload, 1000, std::chrono::seconds(60)});
  auto fe = pod_id("shop", "frontend", "frontend-1"), cart = pod_id("shop", "cart", "cart-1");
  auto& k = m.kernel_events();
  k.add_drops("NETFILTER_DROP", true, fe, cart, IPPROTO_UDP, 25);
  k.add_drops("NETFILTER_DROP", true, fe, cart, IPPROTO_UDP, 5);  // the same series grows
  k.add_drops("NO_SOCKET", true, fe, cart, IPPROTO_UDP, 3);
  k.add_drops("NOT_SPECIFIED", false, {}, {}, 0, 2);
  k.add_retransmits(fe, cart, 11);
  k.add_retransmits(fe, cart, 1);
  const std::string expo = m.expose();
  const prometheus::Labels pair{
      {"src_namespace", "shop"}, {"src_workload", "frontend"}, {"dst_namespace", "shop"}, {"dst_workload", "cart"}};
  auto with = [&](prometheus::Labels l, std::initializer_list<std::pair<const std::string, std::string>> more) {
    l.insert(more);
    return l;
  };
  EXPECT_DOUBLE_EQ(
      value_of(expo, "netring_drops_total", with(pair, {{"reason", "NETFILTER_DROP"}, {"protocol", "udp"}})), 30);
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_drops_total", with(pair, {{"reason", "NO_SOCKET"}, {"protocol", "udp"}})),
                   3);
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_drops_total",
                            {{"reason", "NOT_SPECIFIED"},
                             {"protocol", "none"},
                             {"src_namespace", "none"},
                             {"src_workload", "none"},
                             {"dst_namespace", "none"},
                             {"dst_workload", "none"}}),
                   2);
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_tcp_retransmits_total", pair), 12);
  EXPECT_EQ(k.series(), 4u);

  char path[] = "/tmp/netring-kevents-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, expo.data(), expo.size()), static_cast<ssize_t>(expo.size()));
  close(fd);
  auto r = testing::sh(std::string("promtool check metrics < ") + path);
  unlink(path);
  EXPECT_TRUE(r.ok()) << r.output;
}

TEST(KernelEventMetrics, SeriesCapCountsWhatItLeavesOut) {
  SnapshotStore store;
  AgentMetrics m(store, {LabelLevel::kPod, 2, std::chrono::seconds(60)});
  auto a = pod_id("shop", "frontend", "frontend-1"), b = pod_id("shop", "cart", "cart-1");
  auto& k = m.kernel_events();
  k.add_drops("NETFILTER_DROP", true, a, b, IPPROTO_TCP, 1);
  k.add_retransmits(a, b, 1);
  k.add_drops("NO_SOCKET", true, a, b, IPPROTO_UDP, 1);       // a third series: over the cap
  k.add_drops("NETFILTER_DROP", true, a, b, IPPROTO_TCP, 1);  // an existing one still grows
  const std::string expo = m.expose();
  EXPECT_EQ(k.series(), 2u);
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_kernel_event_series_dropped_total", {}), 1);
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_drops_total",
                            {{"reason", "NETFILTER_DROP"},
                             {"protocol", "tcp"},
                             {"src_namespace", "shop"},
                             {"src_pod", "frontend-1"},
                             {"dst_namespace", "shop"},
                             {"dst_pod", "cart-1"}}),
                   2);
}

TEST(AgentMetrics, FullExpositionPassesPromtool) {
  SnapshotStore store;
  store.publish(full_snapshot());
  AgentMetrics m(store, {});
  FlowView f = make_flow(1, pod_id("shop", "frontend", "fe-0"), Identity{}, 3, 300);
  f.tcp_flags = 0x02;
  FlowView icmp = make_flow(2, Identity{"node-a", "", "", "", "", ""}, pod_id("shop", "frontend", "fe-0"), 1, 84);
  icmp.protocol = IPPROTO_ICMP;
  std::vector<FlowView> live{f, icmp};
  m.update_flows(live);
  std::string expo = m.expose();

  for (const char* name :
       {"netring_flow_bytes_total", "netring_flow_packets_total", "netring_interface_bytes_total",
        "netring_interface_packets_total", "netring_samples_received_total", "netring_samples_lost_total",
        "netring_tcp_flags_total", "netring_icmp_packets_total", "netring_flows_active", "netring_flow_evictions_total",
        "netring_parse_errors_total", "netring_capture_backend_info", "netring_kubernetes_watch_up",
        "netring_build_info", "netring_flow_series_dropped_total", "netring_ready"})
    EXPECT_NE(expo.find(std::string("# TYPE ") + name + " "), std::string::npos) << name;
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_samples_lost_total", {{"stage", "xdp"}, {"reason", "xsk_ring_full"}}), 4);
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_interface_bytes_total",
                            {{"interface", "eth0"}, {"role", "physical"}, {"direction", "tx"}, {"ifindex", "2"}}),
                   200000);
  EXPECT_DOUBLE_EQ(
      value_of(expo, "netring_capture_backend_info", {{"backend", "afpacket"}, {"reason", "AF_XDP socket: EPERM"}}), 1);
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_flows_active", {}), 42);
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_kubernetes_index_objects", {{"kind", "pods"}}), 12);
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_kubernetes_index_objects", {{"kind", "pods_in_grace"}}), 3);
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_kubernetes_index_addresses", {}), 15);
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_kubernetes_index_evicted_total", {}), 2);
  EXPECT_DOUBLE_EQ(value_of(expo, "netring_kubernetes_watch_last_event_timestamp_seconds", {{"resource", "pods"}}),
                   1700000000.0);

  char path[] = "/tmp/netring-metrics-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, expo.data(), expo.size()), static_cast<ssize_t>(expo.size()));
  close(fd);
  auto r = testing::sh(std::string("promtool check metrics < ") + path);
  unlink(path);
  EXPECT_TRUE(r.ok()) << r.output << "\n--- exposition ---\n" << expo;

  // And promtool does fail on a bad exposition, so the check above means something.
  auto bad = testing::sh("printf '# TYPE foo counter\\nfoo 1\\n' | promtool check metrics");
  EXPECT_FALSE(bad.ok()) << bad.output;
}

// The rendering is reused only while nothing it shows changed: new counter
// increments, removed series and a new snapshot each render again.
TEST(AgentMetrics, ExpositionIsReusedOnlyWhileTheDataIsUnchanged) {
  SnapshotStore store;
  AgentMetrics m(store, {LabelLevel::kPod, 1000, std::chrono::seconds(60)});
  Identity fe = pod_id("shop", "frontend", "fe-0"), be = pod_id("shop", "backend", "be-0");
  std::vector<FlowView> live{make_flow(1, fe, be, 1, 100)};
  m.update_flows(live);
  prometheus::Labels l{{"src_namespace", "shop"}, {"src_pod", "fe-0"}, {"dst_namespace", "shop"}, {"dst_pod", "be-0"},
                       {"direction", "egress"},   {"protocol", "tcp"}, {"reporter", "source"}};

  const auto t0 = std::chrono::steady_clock::now();
  auto a = m.exposition();
  auto b = m.exposition();
  if (std::chrono::steady_clock::now() - t0 < AgentMetrics::kExpositionMaxAge) {
    EXPECT_EQ(a.get(), b.get()) << "unchanged data was rendered twice";
  }
  EXPECT_DOUBLE_EQ(value_of(*b, "netring_flow_bytes_total", l), 100);

  live[0].bytes = 250;
  live[0].packets = 2;
  m.update_flows(live);
  auto c = m.exposition();
  EXPECT_NE(c.get(), b.get());
  EXPECT_DOUBLE_EQ(value_of(*c, "netring_flow_bytes_total", l), 250);

  AgentSnapshot snap;
  snap.status.active_flows = 77;
  store.publish(snap);
  EXPECT_DOUBLE_EQ(value_of(*m.exposition(), "netring_flows_active", {}), 77);

  m.flows().pod_deleted("shop", "fe-0", FlowMetrics::Clock::now());
  EXPECT_EQ(m.flows().expire(FlowMetrics::Clock::now() + std::chrono::seconds(61)), 2u);
  EXPECT_EQ(m.exposition()->find("\"fe-0\""), std::string::npos);
  // The uncached rendering agrees with the cached one.
  EXPECT_EQ(m.render(), *m.exposition());
}

// Prometheus asks for gzip; the body must inflate to the plain exposition.
TEST(MetricsServer, ServesGzipWhenAskedAndPlainOtherwise) {
  SnapshotStore store;
  AgentMetrics m(store, {});
  std::vector<FlowView> live{make_flow(1, pod_id("shop", "a", "a-0"), pod_id("shop", "b", "b-0"), 3, 300)};
  m.update_flows(live);
  MetricsServer server(m, store);
  auto addr = http::parse_listen_address("127.0.0.1:0");
  ASSERT_TRUE(addr.ok());
  ASSERT_TRUE(server.start(*addr).ok());
  httplib::Client c("127.0.0.1", server.port());
  auto plain = c.Get("/metrics", {{"Accept-Encoding", "identity"}});
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 200);
  EXPECT_EQ(plain->get_header_value("Content-Encoding"), "");
  EXPECT_EQ(plain->body, m.render());
  auto gz = c.Get("/metrics", {{"Accept-Encoding", "gzip"}});  // the client inflates it
  ASSERT_TRUE(gz);
  EXPECT_EQ(gz->status, 200);
  EXPECT_EQ(gz->get_header_value("Content-Encoding"), "gzip");
  EXPECT_EQ(gz->body, plain->body);
  server.stop();
}

TEST(MetricsServer, ServesMetricsHealthAndReadinessOverHttp) {
  SnapshotStore store;
  AgentMetrics m(store, {});
  MetricsServer server(m, store);
  auto addr = http::parse_listen_address("127.0.0.1:0");
  ASSERT_TRUE(addr.ok());
  auto started = server.start(*addr);
  ASSERT_TRUE(started.ok()) << started.error().message();
  httplib::Client c("127.0.0.1", server.port());
  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("netring_build_info{"), std::string::npos);
  EXPECT_EQ(metrics->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  auto health = c.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto notready = c.Get("/readyz");
  ASSERT_TRUE(notready);
  EXPECT_EQ(notready->status, 503);
  store.publish(full_snapshot());
  auto ready = c.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  server.stop();
}

TEST(ListenAddress, ParsesAndRejects) {
  auto a = http::parse_listen_address("127.0.0.1:9991");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9991);
  EXPECT_TRUE(a->is_loopback());
  auto b = http::parse_listen_address("0.0.0.0:9990");
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->is_loopback());
  auto c = http::parse_listen_address("[::1]:9991");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_TRUE(c->is_loopback());
  EXPECT_EQ(c->str(), "[::1]:9991");
  auto d = http::parse_listen_address(":9990");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->host, "0.0.0.0");
  for (const char* bad : {"9990", "127.0.0.1:", "127.0.0.1:70000", "example.com:80", "[10.0.0.1]:80", "1.2.3:80"}) {
    auto r = http::parse_listen_address(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.error().message().find(bad), std::string::npos) << r.error().message();
    }
  }
}

}  // namespace
}  // namespace netring::agent::metrics
