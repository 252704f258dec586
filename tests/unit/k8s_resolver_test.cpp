// Naming pods of other nodes by point lookups (--kube-pods=node), against a
// FAKE API server (tests/testing/fake_kube_api.hpp; no real kube-apiserver
// can run on the test machines) that serves field selectors, the
// spec.nodeName index and resourceVersion=0 lists as the real one does.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "agent/k8s/resolver.hpp"
#include "agent/k8s/watch.hpp"
#include "tests/testing/fake_kube_api.hpp"
#include "tests/testing/k8s_objects.hpp"

namespace {

using namespace netring::agent;
using namespace netring::agent::k8s;
using netring::testing::FakeKubeApi;
namespace fx = netring::testing::k8s;
using namespace std::chrono_literals;

constexpr auto kWait = 60s;

template <class F>
bool eventually(F&& pred, std::chrono::milliseconds timeout = kWait) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

IpAddress ip(const std::string& s) {
  return *IpAddress::parse(s);
}

nlohmann::json db_pod(const std::string& name, const std::string& node, const std::string& addr) {
  return fx::pod(
      {.ns = "shop", .name = name, .owner_kind = "StatefulSet", .owner_name = "db", .ips = {addr}, .node = node});
}

size_t count_matching(const std::vector<std::string>& reqs, const std::string& needle) {
  size_t n = 0;
  for (const auto& r : reqs) n += r.find(needle) != std::string::npos;
  return n;
}

// One agent on node-a: its own pods watched, nodes watched, others looked up.
struct Agent {
  Index index;
  std::unique_ptr<Watcher> pods, nodes;
  std::unique_ptr<Resolver> resolver;

  Agent(FakeKubeApi& api, ResolverOptions ro, IndexLimits limits = {}) : index(limits) {
    WatchOptions p;
    p.kind = ResourceKind::kPod;
    p.field_selector = "spec.nodeName=node-a";
    p.small_collection = true;
    p.backoff_initial = 100ms;
    WatchOptions n = p;
    n.kind = ResourceKind::kNode;
    n.field_selector.clear();
    n.small_collection = false;
    pods = std::make_unique<Watcher>(api.client_config(), p, index);
    nodes = std::make_unique<Watcher>(api.client_config(), n, index);
    ro.node_name = "node-a";
    ro.backoff_initial = 100ms;
    resolver = std::make_unique<Resolver>(api.client_config(), ro, index);
  }
  ::testing::AssertionResult start() {
    if (!pods->start().ok() || !nodes->start().ok() || !resolver->start().ok())
      return ::testing::AssertionFailure() << "start";
    if (!pods->wait_synced(kWait) || !nodes->wait_synced(kWait)) return ::testing::AssertionFailure() << "sync";
    return ::testing::AssertionSuccess();
  }
  // What the publisher does every round: ask the index, until the answer is `name`.
  bool names(const std::string& addr, const std::string& name, std::chrono::milliseconds timeout = kWait) {
    return eventually(
        [&] {
          auto id = index.lookup(ip(addr));
          return id && id->name == name;
        },
        timeout);
  }
};

void load_cluster(FakeKubeApi& api, bool pod_cidrs = true) {
  api.load("nodes", {fx::node("node-a", "192.168.49.2", "1", pod_cidrs ? "10.244.1.0/24" : ""),
                     fx::node("node-b", "192.168.49.3", "1", pod_cidrs ? "10.244.2.0/24" : ""),
                     fx::node("node-c", "192.168.49.4", "1", pod_cidrs ? "10.244.3.0/24" : "")});
  api.load("pods", {db_pod("db-0", "node-a", "10.244.1.5"), db_pod("db-1", "node-b", "10.244.2.6"),
                    fx::pod({.ns = "shop",
                             .name = "web-7d4b9c6f5d-x2x9k",
                             .owner_kind = "ReplicaSet",
                             .owner_name = "web-7d4b9c6f5d",
                             .template_hash = "7d4b9c6f5d",
                             .ips = {"10.244.3.7"},
                             .node = "node-c"})});
}

TEST(K8sResolver, OnlyThisNodesPodsAreWatchedTheOthersLookedUpWhenSeen) {
  FakeKubeApi api;
  load_cluster(api);
  Agent a(api, {.ttl = 60s, .rate = 100});
  ASSERT_TRUE(a.start());
  EXPECT_EQ(a.index.stats().pods, 1u);  // db-0 only
  EXPECT_EQ(a.index.lookup(ip("10.244.1.5"))->name, "db-0");
  EXPECT_GE(count_matching(api.requests(), "fieldSelector=spec.nodeName=node-a"), 1u);

  api.clear_requests();
  EXPECT_EQ(a.index.lookup(ip("10.244.3.7")), nullptr);  // unknown at first: looked up in the background
  ASSERT_TRUE(a.names("10.244.3.7", "web-7d4b9c6f5d-x2x9k"));
  auto id = a.index.lookup(ip("10.244.3.7"));
  EXPECT_EQ(id->workload, "web");
  EXPECT_EQ(id->workload_kind, "Deployment");
  EXPECT_EQ(id->node, "node-c");
  EXPECT_EQ(id->namespace_, "shop");
  // One request, narrowed to the node whose pod CIDR holds the address and
  // served from the watch cache (resourceVersion=0).
  auto reqs = api.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0], "GET /api/v1/pods?fieldSelector=status.podIP=10.244.3.7,spec.nodeName=node-c&resourceVersion=0");
  // Held for the TTL: asking again costs the API nothing.
  for (int i = 0; i < 50; ++i) a.index.lookup(ip("10.244.3.7"));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(api.requests().size(), 1u);
  auto h = a.resolver->health();
  EXPECT_EQ(h.lookups, 1u);
  EXPECT_EQ(h.found, 1u);
  EXPECT_EQ(h.targeted, 1u);
  EXPECT_TRUE(h.cidrs_trusted);
  EXPECT_EQ(a.index.stats().remote_pods, 1u);
}

TEST(K8sResolver, ThisNodesRangeOtherAddressesAndNodesAreNeverLookedUp) {
  FakeKubeApi api;
  load_cluster(api);
  Agent a(api, {.rate = 100});
  ASSERT_TRUE(a.start());
  api.clear_requests();
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(a.index.lookup(ip("10.244.1.1")), nullptr);  // this node's bridge: its pods are all watched
    EXPECT_EQ(a.index.lookup(ip("8.8.8.8")), nullptr);     // outside every node's pod CIDR
    EXPECT_EQ(a.index.lookup(ip("192.168.49.3"))->name, "node-b");
  }
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(count_matching(api.requests(), "status.podIP"), 0u);
  EXPECT_EQ(a.resolver->health().out_of_scope, 2u);  // each remembered, not re-examined every round
}

TEST(K8sResolver, AnswersPastTheirTtlAreRefreshedWhileStillServed) {
  FakeKubeApi api;
  load_cluster(api);
  Agent a(api, {.ttl = 1s, .rate = 100});
  ASSERT_TRUE(a.start());
  ASSERT_TRUE(a.names("10.244.2.6", "db-1"));
  api.clear_requests();
  std::this_thread::sleep_for(1100ms);
  // Stale now: it still answers, and asks for a refresh.
  EXPECT_EQ(a.index.lookup(ip("10.244.2.6"))->name, "db-1");
  ASSERT_TRUE(eventually([&] { return count_matching(api.requests(), "status.podIP=10.244.2.6") == 1; }));
  // An address nobody asks about is dropped after another TTL.
  ASSERT_TRUE(eventually([&] { return a.resolver->pending() == 0; }));
  std::this_thread::sleep_for(2200ms);
  a.index.expire();
  EXPECT_EQ(a.index.stats().remote_pods, 0u);
}

TEST(K8sResolver, AddressesNoPodHoldsAreRememberedForTheNegativeTtl) {
  FakeKubeApi api;
  load_cluster(api);
  Agent a(api, {.ttl = 60s, .negative_ttl = 1s, .rate = 100});
  ASSERT_TRUE(a.start());
  api.clear_requests();
  EXPECT_EQ(a.index.lookup(ip("10.244.2.99")), nullptr);
  ASSERT_TRUE(eventually([&] { return a.resolver->health().not_found == 1; }));
  // Not on node-b, whose range holds it: one untargeted look confirms no pod has it.
  auto reqs = api.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_NE(reqs[0].find("spec.nodeName=node-b"), std::string::npos);
  EXPECT_EQ(reqs[1], "GET /api/v1/pods?fieldSelector=status.podIP=10.244.2.99&resourceVersion=0");
  for (int i = 0; i < 20; ++i) a.index.lookup(ip("10.244.2.99"));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(api.requests().size(), 2u);
  std::this_thread::sleep_for(1s);
  // The pod appears; past the negative TTL the next flow finds it.
  api.add("pods", db_pod("db-2", "node-b", "10.244.2.99"));
  ASSERT_TRUE(a.names("10.244.2.99", "db-2"));
  EXPECT_TRUE(a.resolver->health().cidrs_trusted);
}

// Once targeted lookups keep finding their pods where the ranges say, a
// targeted miss means "no pod": no untargeted lookup (a scan of every pod on
// the API server) for each address a deleted pod left behind.
TEST(K8sResolver, TrustedRangesSpareTheUntargetedLookup) {
  FakeKubeApi api;
  load_cluster(api);
  for (int i = 0; i < 16; ++i)
    api.add("pods", db_pod("db-" + std::to_string(100 + i), "node-c", "10.244.3." + std::to_string(100 + i)));
  Agent a(api, {.rate = 100});
  ASSERT_TRUE(a.start());
  for (int i = 0; i < 16; ++i)
    ASSERT_TRUE(a.names("10.244.3." + std::to_string(100 + i), "db-" + std::to_string(100 + i)));
  api.clear_requests();
  EXPECT_EQ(a.index.lookup(ip("10.244.3.200")), nullptr);
  ASSERT_TRUE(eventually([&] { return a.resolver->health().not_found == 1; }));
  std::this_thread::sleep_for(200ms);
  auto reqs = api.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_NE(reqs[0].find("spec.nodeName=node-c"), std::string::npos) << reqs[0];
}

TEST(K8sResolver, LookupsAreRateLimited) {
  FakeKubeApi api;
  load_cluster(api);
  Agent a(api, {.negative_ttl = 60s, .rate = 5});
  ASSERT_TRUE(a.start());
  api.clear_requests();
  auto t0 = std::chrono::steady_clock::now();
  // 12 addresses no pod holds in node-b's range: 24 requests at 5 per second (a burst of 5 first).
  for (int i = 0; i < 12; ++i) a.index.lookup(ip("10.244.2." + std::to_string(100 + i)));
  ASSERT_TRUE(eventually([&] { return a.resolver->health().not_found == 12; }));
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(api.requests().size(), 24u);
  EXPECT_GE(elapsed, 3500ms);  // (24 - 5) / 5 s at least; a slow machine only makes it longer
}

// A StatefulSet pod keeps its name when it moves: deleted on one node,
// created again on another with a new address.
TEST(K8sResolver, PodsThatMoveAreFollowed) {
  FakeKubeApi api;
  load_cluster(api);
  Agent a(api, {.ttl = 1s, .rate = 100}, IndexLimits{.pod_grace = 1s});
  ASSERT_TRUE(a.start());

  // Local to remote: db-0 leaves node-a for node-b.
  api.remove("pods", "shop", "db-0");
  api.add("pods", db_pod("db-0", "node-b", "10.244.2.9"));
  ASSERT_TRUE(a.names("10.244.2.9", "db-0"));
  EXPECT_EQ(a.index.lookup(ip("10.244.2.9"))->node, "node-b");
  ASSERT_TRUE(eventually([&] {
    a.index.expire();
    return a.index.lookup(ip("10.244.1.5")) == nullptr;  // its old address, once the grace period ends
  }));

  // Remote to local: db-1 leaves node-b for node-a: the watch brings it.
  ASSERT_TRUE(a.names("10.244.2.6", "db-1"));
  api.remove("pods", "shop", "db-1");
  api.add("pods", db_pod("db-1", "node-a", "10.244.1.6"));
  ASSERT_TRUE(a.names("10.244.1.6", "db-1"));
  EXPECT_EQ(a.index.lookup(ip("10.244.1.6"))->node, "node-a");
  // Its old address is taken by another pod: the refresh after the TTL names it.
  api.add("pods", db_pod("db-7", "node-b", "10.244.2.6"));
  ASSERT_TRUE(a.names("10.244.2.6", "db-7"));

  // Remote to remote: db-7 moves on to node-c.
  api.remove("pods", "shop", "db-7");
  api.add("pods", db_pod("db-7", "node-c", "10.244.3.9"));
  ASSERT_TRUE(a.names("10.244.3.9", "db-7"));
  EXPECT_EQ(a.index.lookup(ip("10.244.3.9"))->node, "node-c");
  // Nobody holds 10.244.2.6 now: its answer goes once refreshed.
  ASSERT_TRUE(eventually([&] { return a.index.lookup(ip("10.244.2.6")) == nullptr; }));
}

// A CNI with its own IPAM (Calico, Cilium cluster-pool) gives pods addresses
// outside their node's spec.podCIDR: the targeted lookups would miss them.
TEST(K8sResolver, ACniThatIgnoresPodCidrsIsNoticed) {
  FakeKubeApi api;
  load_cluster(api);
  api.add("pods", db_pod("db-5", "node-c", "10.244.2.50"));  // in node-b's range, on node-c
  api.add("pods", db_pod("db-6", "node-b", "172.20.0.6"));   // in no node's range
  Agent a(api, {.rate = 100});
  ASSERT_TRUE(a.start());
  ASSERT_TRUE(a.names("10.244.2.50", "db-5"));
  EXPECT_EQ(a.index.lookup(ip("10.244.2.50"))->node, "node-c");
  EXPECT_FALSE(a.resolver->health().cidrs_trusted);
  // From now on: untargeted, and the private ranges are in scope.
  api.clear_requests();
  ASSERT_TRUE(a.names("172.20.0.6", "db-6"));
  auto reqs = api.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0], "GET /api/v1/pods?fieldSelector=status.podIP=172.20.0.6&resourceVersion=0");
}

TEST(K8sResolver, WithoutNodePodCidrsThePrivateRangesAreLookedUp) {
  FakeKubeApi api;
  load_cluster(api, /*pod_cidrs=*/false);
  Agent a(api, {.rate = 100});
  ASSERT_TRUE(a.start());
  ASSERT_TRUE(a.names("10.244.3.7", "web-7d4b9c6f5d-x2x9k"));
  EXPECT_EQ(a.index.lookup(ip("203.0.113.9")), nullptr);  // a public address is no pod's
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(count_matching(api.requests(), "status.podIP=203.0.113.9"), 0u);
  EXPECT_EQ(count_matching(api.requests(), "spec.nodeName=node-c"), 0u);
}

// A host-network pod shows its node's address as status.podIP: the lookup
// must not name the address after it (it is the node's), nor after a
// finished pod that left it behind.
TEST(K8sResolver, HostNetworkAndFinishedPodsNeverNameAnAddress) {
  FakeKubeApi api;
  load_cluster(api, false);
  api.add("pods", fx::pod({.ns = "kube-system",
                           .name = "kube-proxy-x",
                           .owner_kind = "DaemonSet",
                           .owner_name = "kube-proxy",
                           .ips = {"192.168.60.5"},
                           .node = "node-x",
                           .host_network = true}));
  api.add("pods",
          fx::pod({.ns = "batch", .name = "job-x", .ips = {"10.250.0.3"}, .node = "node-b", .phase = "Succeeded"}));
  Agent a(api, {.rate = 100});
  ASSERT_TRUE(a.start());
  a.index.lookup(ip("192.168.60.5"));
  a.index.lookup(ip("10.250.0.3"));
  ASSERT_TRUE(eventually([&] { return a.resolver->health().not_found == 2; }));
  EXPECT_EQ(a.index.lookup(ip("192.168.60.5")), nullptr);
  EXPECT_EQ(a.index.lookup(ip("10.250.0.3")), nullptr);
}

TEST(K8sResolver, AnUnwellApiServerIsBackedOffFrom) {
  FakeKubeApi api;
  load_cluster(api);
  Agent a(api, {.rate = 1000});
  ASSERT_TRUE(a.start());
  api.clear_requests();
  api.fail_next(1'000'000, 503);
  auto t0 = std::chrono::steady_clock::now();
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < 10; ++i) a.index.lookup(ip("10.244.2." + std::to_string(10 + i)));
    std::this_thread::sleep_for(50ms);
  }
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Backoff from 100 ms doubling: a handful of requests in ~2 s, not 1000 per second.
  EXPECT_LE(api.requests().size(), 8u) << secs;
  EXPECT_GE(a.resolver->health().errors, 2u);
  api.fail_next(0, 0);
  ASSERT_TRUE(a.names("10.244.2.6", "db-1"));
}

}  // namespace
