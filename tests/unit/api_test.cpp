// The flow API on fixed snapshots, over a real loopback listener: every
// endpoint, the filters, sort and limit, every 4xx with its JSON body, and
// follow=true streaming (NDJSON over chunked transfer) that ends when the
// client goes away.
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "agent/api/api_server.hpp"

namespace netring::agent::api {
namespace {

using nlohmann::json;

constexpr std::uint64_t kSec = 1'000'000'000ull;

Identity pod(std::string ns, std::string wl, std::string name) {
  return Identity{"node-a", std::move(ns), std::move(wl), "Deployment", std::move(name), ""};
}

FlowView flow(std::uint64_t id, const char* src, const char* dst, std::uint16_t sport, std::uint16_t dport,
              std::uint8_t proto, Identity s, Identity d, double bytes, double packets, std::uint64_t last_s,
              FlowDirection dir = FlowDirection::kEgress, Reporter rep = Reporter::kSource) {
  FlowView f;
  f.id = id;
  f.src = *IpAddress::parse(src);
  f.dst = *IpAddress::parse(dst);
  f.src_port = sport;
  f.dst_port = dport;
  f.protocol = proto;
  f.src_id = std::move(s);
  f.dst_id = std::move(d);
  f.bytes = bytes;
  f.wire_bytes = bytes + 14 * packets;
  f.packets = packets;
  f.bytes_stderr = bytes / 10;
  f.samples = static_cast<std::uint64_t>(packets);
  f.first_seen_ns = (last_s - 10) * kSec;
  f.last_seen_ns = last_s * kSec;
  f.start_mono_ns = 1000 * id + 7;  // any constant: the flow's monotonic start
  f.direction = dir;
  f.reporter = rep;
  f.interfaces =
      std::make_shared<const std::vector<std::string>>(std::vector<std::string>{"veth" + std::to_string(id)});
  return f;
}

// Now-ish times, so that since=<duration> has something to select.
const std::uint64_t kNow = realtime_ns() / kSec;

AgentSnapshot fixed_snapshot() {
  AgentSnapshot s;
  s.taken_ns = kNow * kSec;
  auto fe = pod("shop", "frontend", "frontend-1"), cart = pod("shop", "cart", "cart-1"),
       db = pod("data", "postgres", "postgres-0"), dns = pod("kube-system", "coredns", "coredns-1");
  s.flows = {
      flow(1, "10.1.0.1", "10.1.0.2", 40001, 8080, IPPROTO_TCP, fe, cart, 50000, 40, kNow - 5),
      flow(2, "10.1.0.2", "10.2.0.1", 40002, 5432, IPPROTO_TCP, cart, db, 900000, 700, kNow - 100),
      flow(3, "10.1.0.1", "10.3.0.10", 53001, 53, IPPROTO_UDP, fe, dns, 1200, 10, kNow - 2),
      flow(4, "fd00::1", "fd00::2", 40003, 443, IPPROTO_TCP, cart, Identity{}, 3000, 900, kNow - 1,
           FlowDirection::kIngress, Reporter::kDestination),
      flow(5, "10.1.0.1", "10.2.0.1", 0, 0, IPPROTO_ICMP, fe, db, 840, 10, kNow - 3600),
  };
  s.flows[0].tcp_flags = 0x12;
  s.flows[4].icmp_type = 8;
  s.flows[4].bytes_stderr = 0;  // every packet counted
  s.status.exact_flows.mode = "bulk";
  s.status.exact_flows.counted_skbs = 1234;
  s.status.exact_flows.uncounted = {{"map_full", 3}, {"declined", 1}};
  s.status.exact_flows.drains = 7;
  s.status.exact_flows.map_capacity = 65536;
  s.status.exact_flows.map_resizes = 2;
  s.status.copy_budget = {
      .budget = 2000, .max_scale = 4, .cpus_scaled = 1, .raises = 3, .scaled_copies = 910, .unseen_rate = 400};
  s.interfaces = {{7, "veth1", "pod", "afxdp", "tcx", 1, 2, 3, 4, 2, 4},
                  {2, "eth0", "physical", "afxdp", "tcx", 5, 6, 7, 8, 9, 10}};
  s.status.version = "0.1.0";
  s.status.node = "node-a";
  s.status.ready = true;
  s.status.backend = "afxdp";
  s.status.kernel_features = {{"tcx", true}};
  s.status.fallbacks = {{"hook", "clsact", "tcx: EINVAL"}};
  s.status.samples_received = 99;
  s.status.losses = {{"socket", "xsk_ring_full", 3, false},
                     {"socket", "sequence_gap", 5, true},
                     {"worker", "invalid_sample", 1, true}};
  s.status.active_flows = 5;
  s.status.kube_index.pods = 7;
  s.status.kube_index.pods_in_grace = 2;
  s.status.watches = {{"pods", false, true, 1700000000000000000ull, 3, 1, 9}};
  s.status.flow_table_bytes = {46137408, 46137408};
  s.status.umem_bytes = {8388608, 8388608};
  return s;
}

bool eventually(const std::function<bool()>& pred) {
  for (int i = 0; i < 3000; ++i) {  // 30 s: generous on a loaded machine
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }
  void start(ApiOptions opts) {
    server_.reset();
    opts.listen = {"127.0.0.1", 0};
    opts.follow_keepalive = std::chrono::milliseconds(100);
    store_.publish(fixed_snapshot());
    server_ = std::make_unique<ApiServer>(opts, store_, nullptr);
    auto r = server_->start();
    ASSERT_TRUE(r.ok()) << r.error().message();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(30, 0);
  }
  json get(const std::string& path, int want_status = 200) {
    auto res = client_->Get(path.c_str());
    EXPECT_TRUE(res) << path;
    if (!res) return {};
    EXPECT_EQ(res->status, want_status) << path << ": " << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json") << path;
    return json::parse(res->body, nullptr, false);
  }
  std::vector<std::uint64_t> ids(const std::string& path) {
    json j = get(path);
    std::vector<std::uint64_t> out;
    for (const auto& f : j["flows"]) out.push_back(f["id"].get<std::uint64_t>());
    return out;
  }
  void expect_error(const std::string& path, int status, const std::string& parameter) {
    json j = get(path, status);
    ASSERT_TRUE(j.is_object()) << path;
    EXPECT_TRUE(j.contains("error") && j["error"].is_string() && !j["error"].get<std::string>().empty()) << path;
    if (parameter.empty())
      EXPECT_FALSE(j.contains("parameter")) << path << " " << j.dump();
    else
      EXPECT_EQ(j.value("parameter", ""), parameter) << path << " " << j.dump();
  }

  SnapshotStore store_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

using Ids = std::vector<std::uint64_t>;

TEST_F(ApiTest, FlowsDefaultToNewestFirstWithAllFields) {
  json j = get("/api/v1/flows");
  EXPECT_EQ(j["count"], 5);
  EXPECT_EQ(j["matched"], 5);
  EXPECT_EQ(j["truncated"], false);
  EXPECT_EQ(ids("/api/v1/flows"), (Ids{4, 3, 1, 2, 5}));
  const json& f = j["flows"][2];  // flow 1
  EXPECT_EQ(f["src"]["ip"], "10.1.0.1");
  EXPECT_EQ(f["src"]["port"], 40001);
  EXPECT_EQ(f["src"]["namespace"], "shop");
  EXPECT_EQ(f["src"]["workload"], "frontend");
  EXPECT_EQ(f["src"]["kind"], "Deployment");
  EXPECT_EQ(f["src"]["pod"], "frontend-1");
  EXPECT_EQ(f["dst"]["pod"], "cart-1");
  EXPECT_EQ(f["protocol"], "tcp");
  EXPECT_EQ(f["direction"], "egress");
  EXPECT_EQ(f["reporter"], "source");
  EXPECT_EQ(f["bytes"], 50000.0);
  EXPECT_EQ(f["wire_bytes"], 50000.0 + 14 * 40);
  EXPECT_EQ(f["exact"], false);
  EXPECT_EQ(j["flows"][4]["exact"], true);
  EXPECT_EQ(f["packets"], 40.0);
  EXPECT_EQ(f["samples"], 40);
  EXPECT_EQ(f["bytes_stderr"], 5000.0);
  EXPECT_NEAR(f["bytes_ci99"][0].get<double>(), 50000 - 2.576 * 5000, 1e-6);
  EXPECT_NEAR(f["bytes_ci99"][1].get<double>(), 50000 + 2.576 * 5000, 1e-6);
  EXPECT_EQ(f["tcp_flags"], json({"SYN", "ACK"}));
  EXPECT_EQ(f["interfaces"], json({"veth1"}));
  EXPECT_EQ(f["last_seen"].get<std::string>().size(), std::string("2026-11-25T12:00:00.000000000Z").size());
  EXPECT_EQ(j["flows"][4]["icmp"], json({{"type", 8}, {"code", 0}}));
  EXPECT_EQ(j["flows"][0]["src"]["ip"], "fd00::1");
}

TEST_F(ApiTest, FlowFilters) {
  EXPECT_EQ(ids("/api/v1/flows?from_pod=shop/frontend-1"), (Ids{3, 1, 5}));
  EXPECT_EQ(ids("/api/v1/flows?from_pod=frontend-1"), (Ids{3, 1, 5}));
  EXPECT_EQ(ids("/api/v1/flows?from_pod=other/frontend-1"), (Ids{}));
  EXPECT_EQ(ids("/api/v1/flows?to_pod=data/postgres-0"), (Ids{2, 5}));
  EXPECT_EQ(ids("/api/v1/flows?from_pod=cart-1&to_pod=postgres-0"), (Ids{2}));
  EXPECT_EQ(ids("/api/v1/flows?namespace=data"), (Ids{2, 5}));
  EXPECT_EQ(ids("/api/v1/flows?namespace=kube-system"), (Ids{3}));
  EXPECT_EQ(ids("/api/v1/flows?workload=cart"), (Ids{4, 1, 2}));
  EXPECT_EQ(ids("/api/v1/flows?workload=shop/cart"), (Ids{4, 1, 2}));
  EXPECT_EQ(ids("/api/v1/flows?workload=data/cart"), (Ids{}));
  EXPECT_EQ(ids("/api/v1/flows?ip=10.2.0.1"), (Ids{2, 5}));
  EXPECT_EQ(ids("/api/v1/flows?ip=fd00::2"), (Ids{4}));
  EXPECT_EQ(ids("/api/v1/flows?port=53"), (Ids{3}));
  EXPECT_EQ(ids("/api/v1/flows?port=40002"), (Ids{2}));
  EXPECT_EQ(ids("/api/v1/flows?protocol=udp"), (Ids{3}));
  EXPECT_EQ(ids("/api/v1/flows?protocol=1"), (Ids{5}));
  EXPECT_EQ(ids("/api/v1/flows?direction=ingress"), (Ids{4}));
  EXPECT_EQ(ids("/api/v1/flows?direction=egress&protocol=tcp"), (Ids{1, 2}));
  EXPECT_EQ(ids("/api/v1/flows?reporter=destination"), (Ids{4}));
  EXPECT_EQ(ids("/api/v1/flows?since=60s"), (Ids{4, 3, 1}));
  EXPECT_EQ(ids("/api/v1/flows?since=" + format_time_ns((kNow - 50) * kSec)), (Ids{4, 3, 1}));
  EXPECT_EQ(ids("/api/v1/flows?since=2000-01-01T00:00:00Z"), (Ids{4, 3, 1, 2, 5}));
}

TEST_F(ApiTest, FlowSortAndLimit) {
  EXPECT_EQ(ids("/api/v1/flows?sort=bytes"), (Ids{2, 1, 4, 3, 5}));
  EXPECT_EQ(ids("/api/v1/flows?sort=packets"), (Ids{4, 2, 1, 3, 5}));
  EXPECT_EQ(ids("/api/v1/flows?sort=last_seen"), (Ids{4, 3, 1, 2, 5}));
  json j = get("/api/v1/flows?sort=bytes&limit=2");
  EXPECT_EQ(j["count"], 2);
  EXPECT_EQ(j["matched"], 5);
  EXPECT_EQ(j["truncated"], true);
  EXPECT_EQ(ids("/api/v1/flows?sort=bytes&limit=2"), (Ids{2, 1}));
  EXPECT_EQ(ids("/api/v1/flows?limit=10000"), (Ids{4, 3, 1, 2, 5}));
}

TEST_F(ApiTest, DefaultLimitBoundsTheResult) {
  AgentSnapshot big;
  for (std::uint64_t i = 1; i <= 250; ++i)
    big.flows.push_back(flow(i, "10.0.0.1", "10.0.0.2", 1, 2, IPPROTO_UDP, {}, {}, 1, 1, 1000 + i));
  store_.publish(std::move(big));
  json j = get("/api/v1/flows");
  EXPECT_EQ(j["count"], 100);
  EXPECT_EQ(j["matched"], 250);
  EXPECT_EQ(j["truncated"], true);
  EXPECT_EQ(j["flows"][0]["id"], 250);
}

TEST_F(ApiTest, EveryBadFlowQueryIs400WithTheParameter) {
  expect_error("/api/v1/flows?bogus=1", 400, "bogus");
  expect_error("/api/v1/flows?namspace=shop", 400, "namspace");
  expect_error("/api/v1/flows?port=1&port=2", 400, "port");
  expect_error("/api/v1/flows?from_pod=", 400, "from_pod");
  expect_error("/api/v1/flows?from_pod=a/b/c", 400, "from_pod");
  expect_error("/api/v1/flows?to_pod=/x", 400, "to_pod");
  expect_error("/api/v1/flows?namespace=a/b", 400, "namespace");
  expect_error("/api/v1/flows?namespace=", 400, "namespace");
  expect_error("/api/v1/flows?workload=x/", 400, "workload");
  expect_error("/api/v1/flows?ip=10.0.0.300", 400, "ip");
  expect_error("/api/v1/flows?ip=host.example", 400, "ip");
  expect_error("/api/v1/flows?port=65536", 400, "port");
  expect_error("/api/v1/flows?port=-1", 400, "port");
  expect_error("/api/v1/flows?port=http", 400, "port");
  expect_error("/api/v1/flows?protocol=tcpp", 400, "protocol");
  expect_error("/api/v1/flows?protocol=256", 400, "protocol");
  expect_error("/api/v1/flows?direction=up", 400, "direction");
  expect_error("/api/v1/flows?reporter=both", 400, "reporter");
  json bad = get("/api/v1/flows?reporter=both", 400);
  EXPECT_NE(bad["error"].get<std::string>().find("source|destination|capture"), std::string::npos) << bad.dump();
  expect_error("/api/v1/flows?since=yesterday", 400, "since");
  expect_error("/api/v1/flows?since=2026-11-25T12:00:00", 400, "since");  // no zone
  expect_error("/api/v1/flows?since=10x", 400, "since");
  expect_error("/api/v1/flows?sort=size", 400, "sort");
  expect_error("/api/v1/flows?limit=0", 400, "limit");  // 0 only with follow=true
  expect_error("/api/v1/flows?follow=true&limit=-1", 400, "limit");
  expect_error("/api/v1/flows?limit=10001", 400, "limit");
  expect_error("/api/v1/flows?limit=ten", 400, "limit");
  expect_error("/api/v1/flows?follow=yes", 400, "follow");
  expect_error("/api/v1/flows?follow=true&sort=bytes", 400, "sort");
}

TEST_F(ApiTest, TopTalkers) {
  json j = get("/api/v1/top?key=src_workload");
  ASSERT_EQ(j["top"].size(), 2u);
  EXPECT_EQ(j["top"][0]["key"], "shop/cart");
  EXPECT_EQ(j["top"][0]["bytes"], 903000.0);
  EXPECT_EQ(j["top"][0]["flows"], 2);
  EXPECT_EQ(j["top"][1]["key"], "shop/frontend");
  EXPECT_EQ(j["top"][1]["bytes"], 52040.0);

  j = get("/api/v1/top?key=dst_workload&limit=2");
  ASSERT_EQ(j["top"].size(), 2u);
  EXPECT_EQ(j["top"][0]["key"], "data/postgres");
  EXPECT_EQ(j["top"][0]["bytes"], 900840.0);
  EXPECT_EQ(j["top"][1]["key"], "shop/cart");
  EXPECT_EQ(j["groups"], 4);
  EXPECT_EQ(j["truncated"], true);

  j = get("/api/v1/top?key=pair&by=packets&limit=1");
  ASSERT_EQ(j["top"].size(), 1u);
  EXPECT_EQ(j["top"][0]["key"], "shop/cart -> world");
  EXPECT_EQ(j["top"][0]["src"], "shop/cart");
  EXPECT_EQ(j["top"][0]["dst"], "world");
  EXPECT_EQ(j["by"], "packets");

  j = get("/api/v1/top?key=namespace");
  ASSERT_EQ(j["top"].size(), 1u);
  EXPECT_EQ(j["top"][0]["key"], "shop");
  EXPECT_EQ(j["top"][0]["flows"], 5);

  j = get("/api/v1/top?key=pod");
  ASSERT_EQ(j["top"].size(), 2u);
  EXPECT_EQ(j["top"][0]["key"], "shop/cart-1");
}

TEST_F(ApiTest, EveryBadTopQueryIs400WithTheParameter) {
  expect_error("/api/v1/top", 400, "key");
  expect_error("/api/v1/top?key=owner", 400, "key");
  expect_error("/api/v1/top?key=pod&by=flows", 400, "by");
  expect_error("/api/v1/top?key=pod&limit=0", 400, "limit");
  expect_error("/api/v1/top?key=pod&limit=1001", 400, "limit");
  expect_error("/api/v1/top?key=pod&sort=bytes", 400, "sort");
  expect_error("/api/v1/top?key=pair&window=0s", 400, "window");
  expect_error("/api/v1/top?key=pair&window=500ms", 400, "window");
  expect_error("/api/v1/top?key=pair&window=6m", 400, "window");  // beyond the history kept
  expect_error("/api/v1/top?key=pair&window=soon", 400, "window");
}

// top?window= ranks by the growth within the window, from the publications
// the rate history took in (not the totals of the flows held). The agent's
// publisher hands each publication's growth per flow to the server
// (PublisherOptions::on_growth, worked out by metrics::FlowDeltaTracker);
// here it is given by hand.
TEST_F(ApiTest, TopOverAWindowRanksByRecentGrowth) {
  auto publish_at = [&](std::uint64_t t, double fe_cart_bytes, double fe_cart_growth) {
    AgentSnapshot s = fixed_snapshot();
    s.taken_ns = t * kSec;
    s.flows[0].bytes = fe_cart_bytes;  // frontend -> cart, 50000 in the fixture
    // cart -> postgres (s.flows[1], 900000) stays idle: no growth.
    const FlowGrowth grew[] = {{&s.flows[0], 1, fe_cart_growth}};
    server_->add_growth(s.taken_ns, grew);
    store_.publish(std::move(s));
  };
  server_->add_growth(store_.snapshot()->taken_ns, {});  // the fixture's publication: the baseline
  publish_at(kNow + 1, 60000, 10000);
  publish_at(kNow + 2, 80000, 20000);

  json j = get("/api/v1/top?key=pair&window=1m");
  EXPECT_EQ(j["window_seconds"], 60.0);
  EXPECT_EQ(j["covered_seconds"], 2.0);
  ASSERT_EQ(j["top"].size(), 1u) << j.dump();
  EXPECT_EQ(j["top"][0]["key"], "shop/frontend -> shop/cart");
  EXPECT_EQ(j["top"][0]["src"], "shop/frontend");
  EXPECT_EQ(j["top"][0]["bytes"], 30000.0);
  EXPECT_EQ(j["top"][0]["bytes_per_second"], 15000.0);
  EXPECT_FALSE(j["top"][0].contains("flows"));
  // Without a window, the totals of the flows held: cart -> postgres first.
  j = get("/api/v1/top?key=pair");
  EXPECT_EQ(j["top"][0]["key"], "shop/cart -> data/postgres");
  EXPECT_FALSE(j.contains("window_seconds"));
  j = get("/api/v1/top?key=pair&window=1s");
  EXPECT_EQ(j["covered_seconds"], 1.0);
  EXPECT_EQ(j["top"][0]["bytes_per_second"], 20000.0);
}

TEST_F(ApiTest, CapturePortsAndTheirFlows) {
  AgentSnapshot s = fixed_snapshot();
  s.flows.push_back(flow(6, "10.1.0.1", "10.1.0.2", 40001, 8080, IPPROTO_TCP, pod("shop", "frontend", "frontend-1"),
                         pod("shop", "cart", "cart-1"), 7000, 70, kNow - 1, FlowDirection::kEgress,
                         Reporter::kCapture));
  CapturePortState cs;
  cs.xdp_mode = "generic";
  cs.reason = "native XDP attach failed: Operation not supported";
  cs.queues = 4;
  cs.sample_rate = 10;
  cs.sampled = 90;
  cs.sampled_out = 900;
  cs.losses = {{"capture_port", "xsk_ring_full", 9, true}, {"capture_port", "fill_ring_empty", 3, false}};
  s.interfaces.push_back({9, "span0", "capture-port", "afxdp", "xdp", 1000, 64000, 0, 0, 64000, 0, cs});
  store_.publish(s);
  EXPECT_EQ(ids("/api/v1/flows?reporter=capture"), (Ids{6}));
  EXPECT_EQ(ids("/api/v1/flows?reporter=source&port=8080"), (Ids{1}));
  json j = get("/api/v1/interfaces");
  ASSERT_EQ(j["interfaces"].size(), 3u);
  EXPECT_FALSE(j["interfaces"][0].contains("capture")) << "only capture ports carry it";
  const json& c = j["interfaces"][2]["capture"];
  EXPECT_EQ(c["xdp_mode"], "generic");
  EXPECT_EQ(c["reason"], "native XDP attach failed: Operation not supported");
  EXPECT_EQ(c["queues"], 4);
  EXPECT_EQ(c["sample_rate"], 10);
  EXPECT_EQ(c["sampled"], 90);
  EXPECT_EQ(c["sampled_out"], 900);
  EXPECT_EQ(c["lost"], 9) << "fill_ring_empty is inside kernel_drop, not counted again";
  EXPECT_EQ(c["lost_by_reason"].size(), 2u);
  EXPECT_EQ(j["interfaces"][2]["rx_packets"], 1000);
}

TEST_F(ApiTest, InterfacesAndStatus) {
  json j = get("/api/v1/interfaces");
  ASSERT_EQ(j["interfaces"].size(), 2u);
  EXPECT_EQ(j["interfaces"][1], json({{"ifindex", 2},
                                      {"name", "eth0"},
                                      {"role", "physical"},
                                      {"backend", "afxdp"},
                                      {"hook", "tcx"},
                                      {"rx_packets", 5},
                                      {"rx_bytes", 6},
                                      {"rx_wire_bytes", 9},
                                      {"tx_packets", 7},
                                      {"tx_bytes", 8},
                                      {"tx_wire_bytes", 10}}));
  expect_error("/api/v1/interfaces?all=1", 400, "all");

  j = get("/api/v1/status");
  EXPECT_EQ(j["version"], "0.1.0");
  EXPECT_EQ(j["node"], "node-a");
  EXPECT_EQ(j["ready"], true);
  EXPECT_EQ(j["backend"]["name"], "afxdp");
  EXPECT_EQ(j["kernel_features"]["tcx"], true);
  EXPECT_EQ(j["fallbacks"][0]["chosen"], "clsact");
  EXPECT_EQ(j["kubernetes_index"]["pods"], 7);
  EXPECT_EQ(j["kubernetes_index"]["pods_in_grace"], 2);
  EXPECT_EQ(j["kubernetes"][0]["connected"], false);
  EXPECT_EQ(j["kubernetes"][0]["last_event"], "2023-11-14T22:13:20.000000000Z");
  EXPECT_EQ(j["samples"]["received"], 99);
  // ring-full drops are inside the sequence gaps: counted once
  EXPECT_EQ(j["samples"]["lost"], 6);
  EXPECT_EQ(j["samples"]["lost_by_reason"][0]["reason"], "xsk_ring_full");
  EXPECT_EQ(j["samples"]["lost_by_reason"][0]["in_total"], false);
  EXPECT_EQ(j["samples"]["lost_by_reason"][1]["in_total"], true);
  EXPECT_EQ(j["flows"]["active"], 5);
  EXPECT_EQ(j["exact_flows"]["mode"], "bulk");
  EXPECT_EQ(j["exact_flows"]["counted_skbs"], 1234);
  EXPECT_EQ(j["exact_flows"]["uncounted_skbs"], json({{"declined", 1}, {"map_full", 3}}));
  EXPECT_EQ(j["exact_flows"]["drains"], 7);
  EXPECT_EQ(j["exact_flows"]["map_capacity"], 65536);
  EXPECT_EQ(j["exact_flows"]["map_resizes"], 2);
  EXPECT_EQ(j["copy_budget"], json({{"per_cpu_per_second", 2000},
                                    {"max_scale", 4},
                                    {"cpus_scaled", 1},
                                    {"raises", 3},
                                    {"scaled_copies", 910},
                                    {"unseen_rate", 400}}));
  EXPECT_EQ(j["memory"]["umem_bytes"], 16777216);
  EXPECT_EQ(j["memory"]["umem_bytes_per_worker"], json({8388608, 8388608}));
  EXPECT_EQ(j["memory"]["flow_table_bytes"], 92274816);
  EXPECT_EQ(j["memory"]["flow_table_bytes_per_worker"], json({46137408, 46137408}));
  EXPECT_EQ(j["capture_api"]["enabled"], false);
  expect_error("/api/v1/status?verbose=true", 400, "verbose");
}

TEST_F(ApiTest, UnknownPathIs404Json) {
  expect_error("/api/v1/flow", 404, "");
}

TEST_F(ApiTest, OtherMethodsAre405JsonNaming) {
  for (const char* path : {"/api/v1/flows", "/api/v1/status"}) {
    auto put = client_->Put(path, "", "application/json");
    ASSERT_TRUE(put) << path;
    EXPECT_EQ(put->status, 405) << put->body;
    EXPECT_EQ(put->get_header_value("Allow"), "GET, HEAD");
    EXPECT_NE(json::parse(put->body, nullptr, false).value("error", "").find("PUT"), std::string::npos) << put->body;
    auto del = client_->Delete(path);
    ASSERT_TRUE(del) << path;
    EXPECT_EQ(del->status, 405) << del->body;
  }
}

TEST_F(ApiTest, ABadValueThatIsNotUtf8IsStill400Json) {
  // The message quotes the value: a byte that is not UTF-8 must not turn
  // the answer into an empty 500.
  expect_error("/api/v1/flows?protocol=%ff%fe", 400, "protocol");
  expect_error("/api/v1/top?key=pair&window=%ff", 400, "window");
}

TEST_F(ApiTest, ARequestLineTooLongIs414Json) {
  // cpp-httplib answers this before any route: the error handler gives it
  // the API's JSON body too.
  const std::string path = "/api/v1/flows?limit=1&x=" + std::string(20000, 'a');
  auto res = client_->Get(path.c_str());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 414);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  EXPECT_NE(json::parse(res->body, nullptr, false).value("error", "").find("too long"), std::string::npos) << res->body;
}

TEST_F(ApiTest, HealthAndReadiness) {
  auto h = client_->Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  auto r = client_->Get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  AgentSnapshot not_ready = fixed_snapshot();
  not_ready.status.ready = false;
  store_.publish(std::move(not_ready));
  r = client_->Get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
}

// Collects NDJSON lines of a follow stream on its own connection until told
// to stop; stopping closes the connection as a client going away does.
class FollowClient {
 public:
  FollowClient(int port, std::string path) {
    thread_ = std::thread([this, port, path] {
      httplib::Client c("127.0.0.1", port);
      c.set_read_timeout(60, 0);
      auto res = c.Get(
          path.c_str(),
          [this](const httplib::Response& r) {
            status_ = r.status;
            return true;
          },
          [this](const char* data, std::size_t len) {
            std::lock_guard lock(mu_);
            buf_.append(data, len);
            return !quit_.load();
          });
      done_ = true;
    });
  }
  ~FollowClient() {
    quit_ = true;
    thread_.join();
  }
  // Waits (generously) until `n` non-empty lines arrived; returns them.
  std::vector<json> lines(std::size_t n) {
    for (int i = 0; i < 3000; ++i) {
      {
        std::lock_guard lock(mu_);
        std::vector<json> out;
        std::size_t keepalives = 0;
        std::size_t start = 0;
        for (std::size_t nl; (nl = buf_.find('\n', start)) != std::string::npos; start = nl + 1) {
          if (nl == start) {
            ++keepalives;
            continue;
          }
          out.push_back(json::parse(buf_.substr(start, nl - start)));
        }
        keepalives_ = keepalives;
        if (out.size() >= n) return out;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "timed out waiting for " << n << " lines";
    return {};
  }
  std::size_t keepalives() {
    lines(0);
    return keepalives_;
  }
  void quit() { quit_ = true; }
  int status() const { return status_; }

 private:
  std::thread thread_;
  std::mutex mu_;
  std::string buf_;
  std::atomic<bool> quit_{false}, done_{false};
  std::atomic<int> status_{0};
  std::size_t keepalives_ = 0;
};

TEST_F(ApiTest, FollowStreamsNewAndUpdatedFlowsUntilTheClientGoes) {
  auto follow = std::make_unique<FollowClient>(server_->port(), "/api/v1/flows?follow=true&workload=frontend");
  // First the current matching flows, oldest first.
  auto first = follow->lines(3);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0]["id"], 5);
  EXPECT_EQ(first[1]["id"], 1);
  EXPECT_EQ(first[2]["id"], 3);
  EXPECT_EQ(follow->status(), 200);
  EXPECT_EQ(server_->follow_streams(), 1u);

  // Flow 1 grows, flow 6 appears, flow 3 is unchanged, flow 2 grows but
  // does not match the filter, nor does the new flow 7.
  AgentSnapshot next = fixed_snapshot();
  next.flows[0].samples += 5;
  next.flows[0].bytes += 1000;
  next.flows[1].samples += 5;
  next.flows.push_back(flow(6, "10.1.0.9", "10.1.0.2", 40009, 8080, IPPROTO_TCP, pod("shop", "frontend", "frontend-2"),
                            pod("shop", "cart", "cart-1"), 10, 1, kNow));
  next.flows.push_back(flow(7, "10.9.0.1", "10.9.0.2", 1, 2, IPPROTO_UDP, pod("other", "x", "x-1"),
                            pod("other", "y", "y-1"), 10, 1, kNow));
  store_.publish(std::move(next));
  auto after = follow->lines(5);
  ASSERT_EQ(after.size(), 5u);
  EXPECT_EQ(after[3]["id"], 1);
  EXPECT_EQ(after[3]["bytes"], 51000.0);
  EXPECT_EQ(after[4]["id"], 6);

  // Idle: keep-alive empty lines flow, nothing else.
  EXPECT_TRUE(eventually([&] { return follow->keepalives() >= 2; }));
  EXPECT_EQ(follow->lines(0).size(), 5u);

  // The client goes away: the server notices and frees the stream.
  follow.reset();
  EXPECT_TRUE(eventually([&] { return server_->follow_streams() == 0; }));
}

TEST_F(ApiTest, FollowWithLimitZeroSendsOnlyWhatChanges) {
  FollowClient follow(server_->port(), "/api/v1/flows?follow=true&limit=0");
  EXPECT_TRUE(eventually([&] { return follow.keepalives() >= 1; }));  // the stream is up
  EXPECT_EQ(follow.lines(0).size(), 0u);                              // and sent no flow of the moment
  // The wall clock was stepped 2 s (every flow's wall-clock times moved):
  // that is no change; only flow 3's growth is.
  AgentSnapshot next = fixed_snapshot();
  for (FlowView& f : next.flows) {
    f.first_seen_ns += 2 * kSec;
    f.last_seen_ns += 2 * kSec;
  }
  next.flows[2].samples += 1;
  next.flows[2].bytes += 100;
  store_.publish(std::move(next));
  auto got = follow.lines(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["id"], 3);
}

TEST_F(ApiTest, FollowStreamsAreCapped) {
  ApiOptions opts;
  opts.max_follow_streams = 1;
  start(opts);
  FollowClient a(server_->port(), "/api/v1/flows?follow=true");
  a.lines(5);
  ASSERT_EQ(server_->follow_streams(), 1u);
  expect_error("/api/v1/flows?follow=true", 429, "follow");
}

// Connections that never finish their request (stalled clients) wait on
// the listener's gate, not on its workers: every follow stream the cap
// allows and ordinary requests are still answered at once.
TEST_F(ApiTest, StalledConnectionsStarveNeitherFollowStreamsNorRequests) {
  std::vector<std::unique_ptr<FollowClient>> follows;
  for (int i = 0; i < 4; ++i)
    follows.push_back(std::make_unique<FollowClient>(server_->port(), "/api/v1/flows?follow=true"));
  for (auto& f : follows) EXPECT_GE(f->lines(3).size(), 3u);
  EXPECT_EQ(server_->follow_streams(), 4u);
  const std::string partial = "GET /api/v1/flows HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  std::vector<int> stalled;
  for (int i = 0; i < 40; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(server_->port()));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    (void)!::send(fd, partial.data(), partial.size(), MSG_NOSIGNAL);
    stalled.push_back(fd);
  }
  // httplib's own pool (8 threads, a 5 s read timeout each) would leave
  // these behind the stalled connections for seconds, the streams holding
  // the other threads.
  httplib::Client c("127.0.0.1", server_->port());
  c.set_read_timeout(1, 500'000);
  for (int i = 0; i < 10; ++i) {
    auto r = c.Get("/api/v1/status");
    ASSERT_TRUE(r) << "request " << i << " not answered beside 4 streams and 40 stalled connections";
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(server_->follow_streams(), 4u);
  for (int fd : stalled) ::close(fd);
}

TEST_F(ApiTest, StopEndsFollowStreams) {
  FollowClient a(server_->port(), "/api/v1/flows?follow=true");
  a.lines(5);
  server_->stop();  // must return: the stream ends on shutdown
  EXPECT_EQ(server_->follow_streams(), 0u);
}

}  // namespace
}  // namespace netring::agent::api

namespace netring::agent::api {
namespace {

DnsRecord dns_record(std::uint64_t seq, const char* client, Identity c, Identity s, const char* qname,
                     const char* outcome, int rcode, std::uint64_t latency_ms) {
  DnsRecord d;
  d.seq = seq;
  d.flow = flow(100 + seq, client, "10.3.0.10", static_cast<std::uint16_t>(50000 + seq), 53, IPPROTO_UDP, std::move(c),
                std::move(s), 0, 0, kNow - 10 + seq);
  d.responder = *IpAddress::parse("10.3.0.10");
  d.qname = qname;
  d.qtype = 1;
  d.outcome = outcome;
  d.rcode = rcode;
  d.query_ns = (kNow - 10 + seq) * kSec;
  d.response_ns = rcode >= 0 ? d.query_ns + latency_ms * 1'000'000 : 0;
  d.latency_ns = latency_ms * 1'000'000;
  d.queries = 1;
  return d;
}

class DnsApiTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    publish_dns(true);
  }
  void publish_dns(bool on, std::vector<DnsRecord> extra = {}) {
    AgentSnapshot s = fixed_snapshot();
    s.status.control.dns = on;
    auto fe = pod("shop", "frontend", "frontend-1"), cart = pod("shop", "cart", "cart-1"),
         dns = pod("kube-system", "coredns", "coredns-1");
    std::vector<DnsRecord> r = {
        dns_record(1, "10.1.0.1", fe, dns, "cart.shop.svc.cluster.local", "answered", 0, 2),
        dns_record(2, "10.1.0.1", fe, dns, "nope.shop.svc.cluster.local", "answered", 3, 3),
        dns_record(3, "10.1.0.2", cart, dns, "db.data.svc.cluster.local", "timeout", -1, 0),
    };
    r.insert(r.end(), extra.begin(), extra.end());
    s.dns = std::make_shared<const std::vector<DnsRecord>>(std::move(r));
    store_.publish(std::move(s));
  }
};

TEST_F(DnsApiTest, RecordsNewestFirstWithTheirFields) {
  json j = get("/api/v1/dns");
  ASSERT_EQ(j["count"], 3);
  EXPECT_EQ(j["dns"][0]["seq"], 3);
  EXPECT_EQ(j["dns"][0]["outcome"], "timeout");
  EXPECT_TRUE(j["dns"][0]["rcode"].is_null());
  EXPECT_TRUE(j["dns"][0]["latency_ms"].is_null());
  const json& a = j["dns"][2];
  EXPECT_EQ(a["client"]["pod"], "frontend-1");
  EXPECT_EQ(a["server"]["workload"], "coredns");
  EXPECT_EQ(a["qname"], "cart.shop.svc.cluster.local");
  EXPECT_EQ(a["qtype_name"], "A");
  EXPECT_EQ(a["rcode"], "NOERROR");
  EXPECT_EQ(a["latency_ms"], 2.0);
  EXPECT_EQ(a["responder"], "10.3.0.10");
  EXPECT_EQ(a["protocol"], "udp");
}

TEST_F(DnsApiTest, FlowFiltersAndDnsFilters) {
  auto seqs = [&](const std::string& q) {
    std::vector<int> out;
    const json j = get("/api/v1/dns" + q);
    for (const auto& d : j["dns"]) out.push_back(d["seq"].get<int>());
    return out;
  };
  EXPECT_EQ(seqs("?from_pod=shop/cart-1"), (std::vector<int>{3}));
  EXPECT_EQ(seqs("?to_pod=coredns-1&limit=2"), (std::vector<int>{3, 2}));
  EXPECT_EQ(seqs("?rcode=nxdomain"), (std::vector<int>{2}));
  EXPECT_EQ(seqs("?rcode=0"), (std::vector<int>{1}));
  EXPECT_EQ(seqs("?outcome=timeout"), (std::vector<int>{3}));
  EXPECT_EQ(seqs("?qname=Cart.Shop.svc.cluster.local."), (std::vector<int>{1}));
  EXPECT_EQ(seqs("?ip=10.1.0.2&port=53&protocol=udp"), (std::vector<int>{3}));
  EXPECT_EQ(get("/api/v1/dns?limit=1")["matched"], 3);
}

TEST_F(DnsApiTest, BadQueriesAre4xxJson) {
  expect_error("/api/v1/dns?rcode=bogus", 400, "rcode");
  expect_error("/api/v1/dns?rcode=16", 400, "rcode");
  expect_error("/api/v1/dns?outcome=lost", 400, "outcome");
  expect_error("/api/v1/dns?qname=", 400, "qname");
  expect_error("/api/v1/dns?sort=bytes", 400, "sort");
  expect_error("/api/v1/dns?port=70000", 400, "port");
  expect_error("/api/v1/dns?from_pod=a/b/c", 400, "from_pod");
  publish_dns(false);
  expect_error("/api/v1/dns", 404, "");
}

// A DNS flow carries the tally of its exchanges; other flows no "dns".
TEST_F(DnsApiTest, DnsFlowsCarryTheirExchanges) {
  AgentSnapshot s = fixed_snapshot();
  s.status.control.dns = true;
  FlowDnsView d;
  d.exchanges = 3;
  d.answered = 2;
  d.timeouts = 1;
  d.queries = 4;
  d.rcodes = {{"NOERROR", 1}, {"NXDOMAIN", 1}};
  d.last_qname = "cart.shop.svc.cluster.local";
  d.last_latency_ns = 1'500'000;
  d.max_latency_ns = 2'250'000;
  s.flows[2].extras = std::make_shared<const FlowExtras>(FlowExtras{std::nullopt, d});
  store_.publish(std::move(s));
  json j = get("/api/v1/flows?port=53");
  ASSERT_EQ(j["count"], 1);
  const json& f = j["flows"][0]["dns"];
  EXPECT_EQ(f["exchanges"], 3);
  EXPECT_EQ(f["answered"], 2);
  EXPECT_EQ(f["timeouts"], 1);
  EXPECT_EQ(f["unmatched_responses"], 0);
  EXPECT_EQ(f["queries"], 4);
  EXPECT_EQ(f["rcodes"]["NXDOMAIN"], 1);
  EXPECT_EQ(f["last_qname"], "cart.shop.svc.cluster.local");
  EXPECT_DOUBLE_EQ(f["last_latency_ms"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(f["max_latency_ms"].get<double>(), 2.25);
  EXPECT_FALSE(get("/api/v1/flows?port=8080")["flows"][0].contains("dns"));
}

TEST_F(DnsApiTest, FollowStreamsNewRecords) {
  FollowClient follow(server_->port(), "/api/v1/dns?follow=true&from_pod=frontend-1");
  auto first = follow.lines(2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0]["seq"], 1);
  EXPECT_EQ(first[1]["seq"], 2);
  auto fe = pod("shop", "frontend", "frontend-1"), cart = pod("shop", "cart", "cart-1"),
       dns = pod("kube-system", "coredns", "coredns-1");
  publish_dns(true, {dns_record(4, "10.1.0.2", cart, dns, "x.test", "answered", 0, 1),
                     dns_record(5, "10.1.0.1", fe, dns, "y.test", "answered", 0, 1)});
  auto after = follow.lines(3);
  ASSERT_EQ(after.size(), 3u);
  EXPECT_EQ(after[2]["seq"], 5);
  EXPECT_EQ(after[2]["qname"], "y.test");
}

DropView drop(const char* reason, std::uint64_t at_s, const char* src = nullptr, const char* dst = nullptr,
              std::uint16_t sport = 0, std::uint16_t dport = 0, std::uint8_t proto = 0, Identity s = {},
              Identity d = {}) {
  DropView v;
  v.time_ns = at_s * kSec;
  v.reason = reason;
  v.bytes = 128;
  v.ifindex = 7;
  v.interface = "veth1";
  if (src != nullptr) {
    v.has_flow = true;
    v.src = *IpAddress::parse(src);
    v.dst = *IpAddress::parse(dst);
    v.src_port = sport;
    v.dst_port = dport;
    v.protocol = proto;
    v.src_id = std::move(s);
    v.dst_id = std::move(d);
  }
  return v;
}

class DropApiTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    AgentSnapshot s = fixed_snapshot();
    auto fe = pod("shop", "frontend", "frontend-1"), cart = pod("shop", "cart", "cart-1"),
         db = pod("data", "postgres", "postgres-0");
    // Oldest first, as the publisher keeps them.
    s.drops = std::make_shared<const std::vector<DropView>>(std::vector<DropView>{
        drop("NETFILTER_DROP", kNow - 30, "10.1.0.1", "10.1.0.2", 40001, 8080, IPPROTO_TCP, fe, cart),
        drop("NO_SOCKET", kNow - 10, "10.1.0.1", "10.2.0.1", 40009, 7, IPPROTO_UDP, fe, db),
        drop("NOT_SPECIFIED", kNow - 5),
    });
    s.status.kernel_events.drops = true;
    s.status.kernel_events.drops_by_reason = {{"NETFILTER_DROP", 5}, {"NO_SOCKET", 1}, {"NOT_SPECIFIED", 1}};
    s.status.kernel_events.drop_details_suppressed = 4;
    s.status.kernel_events.tcp_retransmits = true;
    s.status.kernel_events.tcp_retransmits_program = "raw_tp (sk, skb, err)";
    s.status.kernel_events.tcp_retransmits_map_busy = 2;
    s.status.kernel_events.tcp_retransmits_missed = 3;
    s.status.kernel_events.tcp_retransmits_not_sent = 6;
    s.flows[0].tcp_retransmits = 17;
    s.flows[0].tcp_srtt_us = 1500;
    store_.publish(std::move(s));
  }
  std::vector<std::string> reasons(const std::string& path) {
    json j = get(path);
    std::vector<std::string> out;
    for (const auto& d : j["drops"]) out.push_back(d["reason"].get<std::string>());
    return out;
  }
};

using Reasons = std::vector<std::string>;

TEST_F(DropApiTest, DropsNewestFirstWithReasonFlowAndPods) {
  json j = get("/api/v1/drops");
  ASSERT_EQ(j["count"], 3);
  EXPECT_EQ(j["matched"], 3);
  EXPECT_EQ(j["enabled"], true);
  EXPECT_EQ(j["details_suppressed"], 4);
  EXPECT_EQ(reasons("/api/v1/drops"), (Reasons{"NOT_SPECIFIED", "NO_SOCKET", "NETFILTER_DROP"}));
  EXPECT_TRUE(j["drops"][0]["flow"].is_null()) << "no IP header: no flow";
  const json& nf = j["drops"][2];
  EXPECT_EQ(nf["src"]["pod"], "frontend-1");
  EXPECT_EQ(nf["dst"]["pod"], "cart-1");
  EXPECT_EQ(nf["dst"]["port"], 8080);
  EXPECT_EQ(nf["protocol"], "tcp");
  EXPECT_EQ(nf["bytes"], 128);
  EXPECT_EQ(nf["interface"], "veth1");
}

TEST_F(DropApiTest, DropFiltersAreTheFlowFiltersPlusReason) {
  EXPECT_EQ(reasons("/api/v1/drops?reason=NETFILTER_DROP"), (Reasons{"NETFILTER_DROP"}));
  EXPECT_EQ(reasons("/api/v1/drops?reason=netfilter_drop"), (Reasons{"NETFILTER_DROP"}));
  EXPECT_EQ(reasons("/api/v1/drops?reason=SKB_DROP_REASON_NO_SOCKET"), (Reasons{"NO_SOCKET"}));
  EXPECT_EQ(reasons("/api/v1/drops?reason=TCP_CSUM"), (Reasons{}));
  EXPECT_EQ(reasons("/api/v1/drops?from_pod=shop/frontend-1"), (Reasons{"NO_SOCKET", "NETFILTER_DROP"}));
  EXPECT_EQ(reasons("/api/v1/drops?to_pod=postgres-0"), (Reasons{"NO_SOCKET"}));
  EXPECT_EQ(reasons("/api/v1/drops?namespace=data"), (Reasons{"NO_SOCKET"}));
  EXPECT_EQ(reasons("/api/v1/drops?workload=shop/cart"), (Reasons{"NETFILTER_DROP"}));
  EXPECT_EQ(reasons("/api/v1/drops?ip=10.2.0.1"), (Reasons{"NO_SOCKET"}));
  EXPECT_EQ(reasons("/api/v1/drops?port=8080"), (Reasons{"NETFILTER_DROP"}));
  EXPECT_EQ(reasons("/api/v1/drops?protocol=udp"), (Reasons{"NO_SOCKET"}));
  EXPECT_EQ(reasons("/api/v1/drops?since=20s"), (Reasons{"NOT_SPECIFIED", "NO_SOCKET"}));
  json j = get("/api/v1/drops?limit=1");
  EXPECT_EQ(j["count"], 1);
  EXPECT_EQ(j["matched"], 3);
  EXPECT_EQ(j["truncated"], true);
}

TEST_F(DropApiTest, EveryBadDropQueryIs400WithTheParameter) {
  expect_error("/api/v1/drops?reason=no-such", 400, "reason");
  expect_error("/api/v1/drops?reason=", 400, "reason");
  expect_error("/api/v1/drops?reason=A&reason=B", 400, "reason");
  expect_error("/api/v1/drops?direction=egress", 400, "direction");  // flows only
  expect_error("/api/v1/drops?sort=bytes", 400, "sort");
  expect_error("/api/v1/drops?follow=true", 400, "follow");
  expect_error("/api/v1/drops?port=65536", 400, "port");
  expect_error("/api/v1/drops?ip=1.2.3", 400, "ip");
  expect_error("/api/v1/drops?since=yesterday", 400, "since");
  expect_error("/api/v1/drops?limit=0", 400, "limit");
}

TEST_F(DropApiTest, FlowsCarryRetransmitsAndStatusTheKernelEvents) {
  json j = get("/api/v1/flows?port=8080");
  ASSERT_EQ(j["count"], 1);
  EXPECT_EQ(j["flows"][0]["tcp_retransmits"], 17);
  EXPECT_DOUBLE_EQ(j["flows"][0]["tcp_srtt_ms"].get<double>(), 1.5);
  json u = get("/api/v1/flows?protocol=udp");
  EXPECT_FALSE(u["flows"][0].contains("tcp_retransmits"));
  json st = get("/api/v1/status");
  EXPECT_EQ(st["kernel_events"]["drops"]["enabled"], true);
  EXPECT_EQ(st["kernel_events"]["drops"]["by_reason"]["NETFILTER_DROP"], 5);
  EXPECT_EQ(st["kernel_events"]["drops"]["details_suppressed"], 4);
  const json& rt = st["kernel_events"]["tcp_retransmits"];
  EXPECT_EQ(rt["program"], "raw_tp (sk, skb, err)");
  EXPECT_EQ(rt["map_busy"], 2);
  EXPECT_EQ(rt["missed"], 3);
  EXPECT_EQ(rt["not_sent"], 6);
}

TEST_F(ApiTest, DropsWhenOffSayWhy) {
  AgentSnapshot s = fixed_snapshot();
  s.status.kernel_events.drops_reason = "off (--drops=off)";
  store_.publish(std::move(s));
  json j = get("/api/v1/drops");
  EXPECT_EQ(j["count"], 0);
  EXPECT_EQ(j["enabled"], false);
  EXPECT_EQ(j["reason"], "off (--drops=off)");
}

// Every answer, errors and the page included, names the API version and
// carries the security headers.
TEST_F(ApiTest, EveryAnswerCarriesTheVersionAndSecurityHeaders) {
  for (const char* path : {"/api/v1/flows", "/api/v1/status", "/api/v1/flows?bogus=1", "/api/v1/nothing", "/",
                           "/ui/netring.js", "/healthz"}) {
    auto res = client_->Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->get_header_value("Netring-Api-Version"), "1") << path;
    const std::string csp = res->get_header_value("Content-Security-Policy");
    EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << path << ": " << csp;
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << path << ": " << csp;
    EXPECT_EQ(csp.find("unsafe"), std::string::npos) << path << ": " << csp;
    EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff") << path;
    EXPECT_EQ(res->get_header_value("X-Frame-Options"), "DENY") << path;
    EXPECT_EQ(res->get_header_value("Referrer-Policy"), "no-referrer") << path;
    EXPECT_EQ(res->get_header_value_count("Cache-Control"), 1u) << path;
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(ApiTest, ThePageIsServedFromTheBinary) {
  auto page = client_->Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(page->body, read_file(NETRING_SOURCE_DIR "/agent/api/page/index.html"));
  // Only scripts and styles from this origin: no inline script, no style attribute.
  EXPECT_NE(page->body.find("<script src=\"/ui/netring.js\""), std::string::npos);
  EXPECT_EQ(page->body.find("<script>"), std::string::npos);
  EXPECT_EQ(page->body.find("style="), std::string::npos);
  EXPECT_EQ(page->body.find("http://"), std::string::npos);
  EXPECT_EQ(page->body.find("https://"), std::string::npos);

  auto d3 = client_->Get("/ui/d3.min.js");
  ASSERT_TRUE(d3);
  EXPECT_EQ(d3->status, 200);
  EXPECT_EQ(d3->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(d3->body, read_file(NETRING_D3_JS));  // Debian's node-d3, embedded at build
  auto css = client_->Get("/ui/netring.css");
  ASSERT_TRUE(css);
  EXPECT_EQ(css->get_header_value("Content-Type"), "text/css; charset=utf-8");

  // Revalidation: the same ETag answers 304 without a body.
  const std::string etag = d3->get_header_value("ETag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(d3->get_header_value("Cache-Control"), "no-cache");
  auto again = client_->Get("/ui/d3.min.js", httplib::Headers{{"If-None-Match", etag}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 304);
  EXPECT_TRUE(again->body.empty());

  expect_error("/ui/missing.js", 404, "");
  expect_error("/?x=1", 400, "x");
}

// DNS rebinding: a page of another site whose name now resolves to
// 127.0.0.1 sends its own name as Host.
TEST_F(ApiTest, RequestsForOtherHostNamesAreRefused) {
  for (const char* host : {"evil.example", "evil.example:9991", "127.0.0.1.nip.io:9991", "localhost.evil.example"}) {
    auto res = client_->Get("/api/v1/flows", httplib::Headers{{"Host", host}});
    ASSERT_TRUE(res) << host;
    EXPECT_EQ(res->status, 403) << host;
    auto body = json::parse(res->body, nullptr, false);
    EXPECT_NE(body.value("error", "").find("refused"), std::string::npos) << host << ": " << res->body;
  }
  for (const char* host : {"127.0.0.1:9991", "localhost:9991", "LOCALHOST", "[::1]:9991", "10.1.2.3",
                           "netring.localhost:9991", "[fd00::1]"}) {
    auto res = client_->Get("/api/v1/status", httplib::Headers{{"Host", host}});
    ASSERT_TRUE(res) << host;
    EXPECT_EQ(res->status, 200) << host << ": " << res->body;
  }
}

}  // namespace
}  // namespace netring::agent::api
