#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "agent/k8s/index.hpp"
#include "agent/k8s/sax.hpp"
#include "agent/k8s/workload.hpp"
#include "tests/testing/k8s_objects.hpp"

namespace {

using namespace netring::agent;
using namespace netring::agent::k8s;
namespace fx = netring::testing::k8s;
using std::chrono::seconds;

Object parsed(const nlohmann::json& obj) {
  auto ev = parse_watch_event(fx::watch_line("ADDED", obj));
  EXPECT_TRUE(ev.ok());
  return std::move(ev)->object;
}

Object pod(fx::PodSpec spec) {
  return parsed(fx::pod(spec));
}

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

TEST(K8sWorkload, DerivedFromOwnerReferencesAlone) {
  // Deployment through its ReplicaSet, exact with the pod-template-hash label.
  EXPECT_EQ(derive_workload(pod({.name = "web-7d4b9c6f5d-x2x9k",
                                 .owner_kind = "ReplicaSet",
                                 .owner_name = "web-7d4b9c6f5d",
                                 .template_hash = "7d4b9c6f5d"})),
            (Workload{"Deployment", "web"}));
  // Without the label, by the shape of the hash suffix.
  EXPECT_EQ(derive_workload(
                pod({.name = "api-v2-5f6c7b8d9-abcde", .owner_kind = "ReplicaSet", .owner_name = "api-v2-5f6c7b8d9"})),
            (Workload{"Deployment", "api-v2"}));
  // A bare ReplicaSet whose name does not end in a hash stays a ReplicaSet.
  EXPECT_EQ(derive_workload(pod({.name = "legacy-abcde", .owner_kind = "ReplicaSet", .owner_name = "legacy-rs"})),
            (Workload{"ReplicaSet", "legacy-rs"}));
  EXPECT_EQ(
      derive_workload(
          pod({.name = "nightly-backup-29412345-q8z7r", .owner_kind = "Job", .owner_name = "nightly-backup-29412345"})),
      (Workload{"CronJob", "nightly-backup"}));
  EXPECT_EQ(derive_workload(pod({.name = "migrate-x7p2q", .owner_kind = "Job", .owner_name = "migrate"})),
            (Workload{"Job", "migrate"}));
  EXPECT_EQ(derive_workload(pod({.name = "db-0", .owner_kind = "StatefulSet", .owner_name = "db"})),
            (Workload{"StatefulSet", "db"}));
  EXPECT_EQ(derive_workload(pod({.name = "cilium-x9f8k", .owner_kind = "DaemonSet", .owner_name = "cilium"})),
            (Workload{"DaemonSet", "cilium"}));
  EXPECT_EQ(derive_workload(
                pod({.name = "kube-apiserver-node-a", .owner_kind = "Node", .owner_name = "node-a", .node = "node-a"})),
            (Workload{"StaticPod", "kube-apiserver"}));
  EXPECT_EQ(derive_workload(pod({.name = "debug"})), (Workload{"Pod", "debug"}));
}

TEST(K8sWorkload, ControllerOwnerWins) {
  auto j = fx::pod({.name = "web-7d4b9c6f5d-x2x9k", .owner_kind = "ReplicaSet", .owner_name = "web-7d4b9c6f5d"});
  j["metadata"]["ownerReferences"].insert(j["metadata"]["ownerReferences"].begin(),
                                          {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"name", "x"}, {"uid", "u"}});
  EXPECT_EQ(derive_workload(parsed(j)), (Workload{"Deployment", "web"}));
}

TEST(K8sIndex, PodsServicesNodesAndLookupOrder) {
  Index idx;
  idx.upsert(ResourceKind::kNode, parsed(fx::node("node-a", "192.168.49.2", "1")));
  idx.upsert(ResourceKind::kService, parsed(fx::service("shop", "web", {"10.96.0.10"}, "2", 30080)));
  idx.upsert(ResourceKind::kPod, pod({.ns = "shop",
                                      .name = "web-7d4b9c6f5d-x2x9k",
                                      .owner_kind = "ReplicaSet",
                                      .owner_name = "web-7d4b9c6f5d",
                                      .template_hash = "7d4b9c6f5d",
                                      .ips = {"10.244.1.7", "fd00::7"}}));
  // hostNetwork: reports the node IP, and must not take it over.
  idx.upsert(ResourceKind::kPod, pod({.ns = "kube-system",
                                      .name = "kube-proxy-abcde",
                                      .owner_kind = "DaemonSet",
                                      .owner_name = "kube-proxy",
                                      .ips = {"192.168.49.2"},
                                      .host_network = true}));

  auto p = idx.lookup(ip("10.244.1.7"));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kind, ResourceKind::kPod);
  EXPECT_EQ(p->namespace_, "shop");
  EXPECT_EQ(p->name, "web-7d4b9c6f5d-x2x9k");
  EXPECT_EQ(p->workload_kind, "Deployment");
  EXPECT_EQ(p->workload, "web");
  EXPECT_EQ(p->node, "node-a");
  EXPECT_EQ(idx.lookup(ip("fd00::7")), p);

  auto n = idx.lookup(ip("192.168.49.2"));
  ASSERT_TRUE(n);
  EXPECT_EQ(n->kind, ResourceKind::kNode);
  EXPECT_EQ(n->name, "node-a");

  auto s = idx.lookup(ip("10.96.0.10"));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->kind, ResourceKind::kService);
  EXPECT_EQ(s->name, "web");
  EXPECT_EQ(idx.lookup_node_port("TCP", 30080), s);
  EXPECT_FALSE(idx.lookup_node_port("UDP", 30080));
  EXPECT_FALSE(idx.lookup(ip("10.244.9.9")));

  auto st = idx.stats();
  EXPECT_EQ(st.pods, 2u);
  EXPECT_EQ(st.services, 1u);
  EXPECT_EQ(st.nodes, 1u);
  EXPECT_EQ(st.ips, 4u);  // 2 pod IPs, 1 service IP, 1 node IP; none for the hostNetwork pod
}

// Looked-up pods (point lookups of other nodes' pods) and EndpointSlice
// addresses take their places in the lookup order: a watched pod wins over
// a looked-up one, a node over an EndpointSlice address.
TEST(K8sIndex, LookedUpPodsAndEndpointSliceAddressesInLookupOrder) {
  Index idx;
  idx.upsert(ResourceKind::kNode, parsed(fx::node("cp-1", "192.168.49.2", "1", "10.244.1.0/24")));
  idx.upsert(ResourceKind::kEndpointSlice,
             parsed(fx::endpoint_slice(
                 "default", "kubernetes", "kubernetes",
                 {{.ip = "192.168.49.2"}, {.ip = "192.168.49.100"}, {.ip = "10.244.2.8", .pod = "x"}}, "", "1")));
  auto api = idx.lookup(ip("192.168.49.100"));
  ASSERT_TRUE(api);
  EXPECT_EQ(api->kind, ResourceKind::kService);
  EXPECT_EQ(api->name, "kubernetes");
  EXPECT_EQ(idx.lookup(ip("192.168.49.2"))->kind, ResourceKind::kNode);
  EXPECT_FALSE(idx.lookup(ip("10.244.2.8")));  // a pod endpoint is named by its pod, not by the slice
  EXPECT_EQ(idx.stats().endpoint_slices, 1u);
  EXPECT_EQ(idx.pod_cidr_node(ip("10.244.1.77")), "cp-1");
  EXPECT_FALSE(idx.pod_cidr_node(ip("10.244.2.77")));
  EXPECT_TRUE(idx.has_pod_cidrs());

  auto t0 = Index::Clock::now();
  Object remote = pod({.ns = "shop",
                       .name = "db-0",
                       .owner_kind = "StatefulSet",
                       .owner_name = "db",
                       .ips = {"10.244.2.8"},
                       .node = "node-b"});
  idx.set_remote(ip("10.244.2.8"), &remote, t0 + seconds(10), t0 + seconds(20));
  auto r = idx.lookup(ip("10.244.2.8"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "db-0");
  EXPECT_EQ(r->workload, "db");
  EXPECT_EQ(r->node, "node-b");
  EXPECT_EQ(idx.stats().remote_pods, 1u);
  // A watched pod with the address wins.
  idx.upsert(ResourceKind::kPod, pod({.ns = "shop", .name = "db-1", .ips = {"10.244.2.8"}}));
  EXPECT_EQ(idx.lookup(ip("10.244.2.8"))->name, "db-1");
  // The snapshot names each address once, as lookup() does.
  size_t seen = 0;
  for (const auto& [addr, id] : idx.snapshot()) {
    if (addr == ip("10.244.2.8")) {
      ++seen;
      EXPECT_EQ(id->name, "db-1");
    }
  }
  EXPECT_EQ(seen, 1u);
  // Unrefreshed, the looked-up answer goes at its drop time.
  idx.expire(t0 + seconds(19));
  EXPECT_EQ(idx.stats().remote_pods, 1u);
  idx.expire(t0 + seconds(20));
  EXPECT_EQ(idx.stats().remote_pods, 0u);
  // "No pod holds it" forgets an answer at once.
  idx.set_remote(ip("10.244.2.9"), &remote, t0 + seconds(10), t0 + seconds(20));
  idx.set_remote(ip("10.244.2.9"), nullptr, t0, t0);
  EXPECT_FALSE(idx.lookup(ip("10.244.2.9")));
}

// The miss handler hears of addresses nobody names and of looked-up answers past their TTL.
TEST(K8sIndex, MissHandlerHearsMissesAndStaleAnswers) {
  Index idx;
  std::vector<std::pair<std::string, bool>> heard;
  idx.set_miss_handler([&](const IpAddress& a, bool stale) { heard.emplace_back(a.str(), stale); });
  EXPECT_FALSE(idx.lookup(ip("10.1.1.1")));
  Object remote = pod({.ns = "shop", .name = "db-0", .ips = {"10.1.1.2"}});
  auto now = Index::Clock::now();
  idx.set_remote(ip("10.1.1.2"), &remote, now + seconds(60), now + seconds(120));
  EXPECT_TRUE(idx.lookup(ip("10.1.1.2")));  // fresh: nothing heard
  idx.set_remote(ip("10.1.1.3"), &remote, now - seconds(1), now + seconds(60));
  EXPECT_TRUE(idx.lookup(ip("10.1.1.3")));  // stale: answered, and heard
  ASSERT_EQ(heard.size(), 2u);
  EXPECT_EQ(heard[0], std::make_pair(std::string("10.1.1.1"), false));
  EXPECT_EQ(heard[1], std::make_pair(std::string("10.1.1.3"), true));
}

TEST(K8sIndex, DeletedPodsKeepTheirNameForTheGracePeriod) {
  Index idx({.pod_grace = seconds(60)});
  auto t0 = Index::Clock::now();
  Object a = pod({.name = "a", .ips = {"10.0.0.1"}});
  idx.upsert(ResourceKind::kPod, a, t0);
  idx.remove(ResourceKind::kPod, a, t0 + seconds(1));
  EXPECT_TRUE(idx.lookup(ip("10.0.0.1")));
  EXPECT_EQ(idx.stats().pods, 0u);
  EXPECT_EQ(idx.stats().pods_in_grace, 1u);
  idx.expire(t0 + seconds(60));
  EXPECT_TRUE(idx.lookup(ip("10.0.0.1")));
  idx.expire(t0 + seconds(61));
  EXPECT_FALSE(idx.lookup(ip("10.0.0.1")));
  EXPECT_EQ(idx.stats().pods_in_grace, 0u);
}

TEST(K8sIndex, ReportsPodsItStopsResolving) {
  Index idx({.pod_grace = seconds(60)});
  auto t0 = Index::Clock::now();
  Object a = pod({.name = "a", .ips = {"10.0.0.1"}});
  Object b = pod({.name = "b", .ips = {"10.0.0.2"}});
  idx.upsert(ResourceKind::kPod, a, t0);
  idx.upsert(ResourceKind::kPod, b, t0);
  uint64_t cursor = 0, late = 0;
  idx.remove(ResourceKind::kPod, a, t0 + seconds(1));
  EXPECT_TRUE(idx.pods_gone_since(cursor).empty());  // still in its grace period
  idx.expire(t0 + seconds(61));
  auto gone = idx.pods_gone_since(cursor);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0], "default/a");
  EXPECT_TRUE(idx.pods_gone_since(cursor).empty());  // reported once per cursor
  EXPECT_EQ(idx.pods_gone_since(late).size(), 1u);   // every consumer has its own cursor
}

TEST(K8sIndex, ANewPodTakesOverTheIpOfADeletedOne) {
  Index idx({.pod_grace = seconds(60)});
  auto t0 = Index::Clock::now();
  Object old_pod = pod({.name = "old", .ips = {"10.0.0.1"}});
  idx.upsert(ResourceKind::kPod, old_pod, t0);
  idx.remove(ResourceKind::kPod, old_pod, t0);
  idx.upsert(ResourceKind::kPod, pod({.name = "new", .ips = {"10.0.0.1"}}), t0 + seconds(1));
  EXPECT_EQ(idx.lookup(ip("10.0.0.1"))->name, "new");
  idx.expire(t0 + seconds(120));  // the old pod's expiry must not remove the new owner
  ASSERT_TRUE(idx.lookup(ip("10.0.0.1")));
  EXPECT_EQ(idx.lookup(ip("10.0.0.1"))->name, "new");
}

TEST(K8sIndex, FinishedPodsAndChangedIps) {
  Index idx;
  idx.upsert(ResourceKind::kPod, pod({.name = "a", .ips = {"10.0.0.1"}}));
  idx.upsert(ResourceKind::kPod, pod({.name = "a", .ips = {"10.0.0.2"}, .resource_version = "1001"}));
  EXPECT_FALSE(idx.lookup(ip("10.0.0.1")));
  EXPECT_TRUE(idx.lookup(ip("10.0.0.2")));
  idx.upsert(ResourceKind::kPod, pod({.name = "a", .ips = {"10.0.0.2"}, .phase = "Succeeded"}));
  EXPECT_EQ(idx.stats().pods, 0u);
  EXPECT_EQ(idx.stats().pods_in_grace, 1u);
}

TEST(K8sIndex, ResyncDeletesWhatTheListNoLongerHas) {
  Index idx({.pod_grace = seconds(0)});
  idx.upsert(ResourceKind::kPod, pod({.name = "a", .ips = {"10.0.0.1"}}));
  idx.upsert(ResourceKind::kPod, pod({.name = "b", .ips = {"10.0.0.2"}}));
  idx.upsert(ResourceKind::kService, parsed(fx::service("default", "s", {"10.96.0.1"}, "1")));
  idx.begin_resync(ResourceKind::kPod);
  idx.upsert(ResourceKind::kPod, pod({.name = "b", .ips = {"10.0.0.2"}}));
  idx.end_resync(ResourceKind::kPod);
  EXPECT_FALSE(idx.lookup(ip("10.0.0.1")));
  EXPECT_TRUE(idx.lookup(ip("10.0.0.2")));
  EXPECT_TRUE(idx.lookup(ip("10.96.0.1")));  // other kinds untouched
  // A list that failed half-way (no end_resync) deletes nothing.
  idx.begin_resync(ResourceKind::kPod);
  EXPECT_TRUE(idx.lookup(ip("10.0.0.2")));
}

TEST(K8sIndex, MemoryIsBoundedByCaps) {
  Index idx({.max_pods = 100, .pod_grace = seconds(600)});
  auto t0 = Index::Clock::now();
  std::vector<Object> pods;
  for (int i = 0; i < 100; ++i) {
    pods.push_back(pod({.name = "p" + std::to_string(i), .ips = {"10.1.0." + std::to_string(i)}}));
    idx.upsert(ResourceKind::kPod, pods.back(), t0);
  }
  for (int i = 0; i < 10; ++i) idx.remove(ResourceKind::kPod, pods[i], t0 + seconds(i));
  // New pods first push out the oldest deleted ones...
  for (int i = 100; i < 105; ++i) {
    idx.upsert(ResourceKind::kPod, pod({.name = "p" + std::to_string(i), .ips = {"10.2.0." + std::to_string(i - 100)}}),
               t0 + seconds(20));
  }
  auto st = idx.stats();
  EXPECT_EQ(st.evicted, 5u);
  EXPECT_EQ(st.pods, 95u);
  EXPECT_EQ(st.pods_in_grace, 5u);
  EXPECT_FALSE(idx.lookup(ip("10.1.0.0")));  // oldest deleted went first
  EXPECT_TRUE(idx.lookup(ip("10.1.0.9")));
  // ...then, with nothing left to evict, are refused and counted.
  for (int i = 105; i < 120; ++i) {
    idx.upsert(ResourceKind::kPod, pod({.name = "p" + std::to_string(i), .ips = {"10.3.0." + std::to_string(i - 100)}}),
               t0 + seconds(20));
  }
  st = idx.stats();
  EXPECT_EQ(st.pods + st.pods_in_grace, 100u);
  EXPECT_EQ(st.refused, 10u);
}

TEST(K8sIndex, ReadersOnOtherThreadsSeeWholeIdentities) {
  Index idx;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> hits{0};
  std::thread reader([&] {
    while (!stop.load()) {
      auto id = idx.lookup(ip("10.0.0.1"));
      if (id) {
        // Names and workloads always come as one consistent pair.
        EXPECT_EQ(id->workload, id->name.substr(0, id->name.rfind('-')));
        hits.fetch_add(1);
      }
    }
  });
  for (int i = 0; i < 2000; ++i) {
    std::string w = "w" + std::to_string(i % 7);
    idx.upsert(ResourceKind::kPod,
               pod({.name = w + "-x", .uid = "u1", .owner_kind = "StatefulSet", .owner_name = w, .ips = {"10.0.0.1"}}));
  }
  stop = true;
  reader.join();
  EXPECT_GT(hits.load(), 0u);
}

}  // namespace
