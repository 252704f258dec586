// Kubernetes metadata as the agent starts it from its configuration, against
// a FAKE API server (tests/testing/fake_kube_api.hpp; no real kube-apiserver
// can run on the test machines) reached through a kubeconfig.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "agent/k8s/metadata.hpp"
#include "tests/testing/base64.hpp"
#include "tests/testing/fake_kube_api.hpp"
#include "tests/testing/k8s_objects.hpp"

namespace {

using namespace netring::agent;
using namespace netring::agent::k8s;
using netring::testing::b64;
using netring::testing::FakeKubeApi;
namespace fx = netring::testing::k8s;
using namespace std::chrono_literals;
using netring::agent::IpAddress;

std::string temp_file(const std::string& content) {
  char tmpl[] = "/tmp/netring-meta-XXXXXX";
  int fd = mkstemp(tmpl);
  ::close(fd);
  std::ofstream(tmpl) << content;
  return tmpl;
}

EnvLookup no_env() {
  return [](const std::string&) { return std::optional<std::string>(); };
}

TEST(K8sMetadata, ApiThroughKubeconfigPlusPodsFile) {
  FakeKubeApi api;
  api.load(
      "pods",
      {fx::pod(
          {.ns = "shop", .name = "db-0", .owner_kind = "StatefulSet", .owner_name = "db", .ips = {"10.244.3.3"}})});
  api.load("services", {fx::service("shop", "db", {"10.96.3.3"}, "1")});
  api.load("nodes", {fx::node("node-a", "192.168.49.2", "1")});
  std::string kubeconfig = temp_file(
      "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
      "clusters:\n- name: k\n  cluster:\n    server: https://127.0.0.1:" +
      std::to_string(api.port()) + "\n    certificate-authority-data: " + b64(api.ca().ca().cert_pem) +
      "\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\n"
      "users:\n- name: u\n  user:\n    token: test-token\n");
  std::string pods =
      temp_file(nlohmann::json{{"apiVersion", "v1"},
                               {"kind", "List"},
                               {"metadata", {{"resourceVersion", ""}}},
                               {"items", {fx::pod({.ns = "edge", .name = "probe", .ips = {"10.250.0.9"}})}}}
                    .dump());
  Config config;
  config.kubeconfig = kubeconfig;
  config.pods_from = pods;
  auto m = Metadata::start(config, no_env());
  ASSERT_TRUE(m.ok()) << m.error().message();
  ASSERT_TRUE((*m)->api_enabled());
  for (int i = 0; i < 6000 && !(*m)->synced(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE((*m)->synced());
  const Index& idx = (*m)->index();
  EXPECT_EQ(idx.lookup(*IpAddress::parse("10.244.3.3"))->workload, "db");
  EXPECT_EQ(idx.lookup(*IpAddress::parse("10.96.3.3"))->kind, ResourceKind::kService);
  EXPECT_EQ(idx.lookup(*IpAddress::parse("192.168.49.2"))->kind, ResourceKind::kNode);
  EXPECT_EQ(idx.lookup(*IpAddress::parse("10.250.0.9"))->name, "probe");
  auto health = (*m)->health();
  ASSERT_EQ(health.size(), 4u);          // pods, services, nodes, endpointslices
  EXPECT_EQ((*m)->resolver(), nullptr);  // no node name: every pod is watched
  // "synced" means the lists are in; the watch request that follows may
  // still be on its way to the server on a loaded machine.
  for (int i = 0; i < 6000 && api.max_open_watches("pods") < 1; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(api.max_open_watches("pods"), 1);
  (*m)->stop();
  std::remove(kubeconfig.c_str());
  std::remove(pods.c_str());
}

std::string kubeconfig_for(const FakeKubeApi& api) {
  return temp_file(
      "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
      "clusters:\n- name: k\n  cluster:\n    server: https://127.0.0.1:" +
      std::to_string(api.port()) + "\n    certificate-authority-data: " + b64(api.ca().ca().cert_pem) +
      "\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\n"
      "users:\n- name: u\n  user:\n    token: test-token\n");
}

size_t count_matching(const std::vector<std::string>& reqs, const std::string& needle) {
  size_t n = 0;
  for (const auto& r : reqs) n += r.find(needle) != std::string::npos;
  return n;
}

template <class F>
bool eventually(F&& pred, std::chrono::milliseconds timeout = 60s) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

IpAddress addr(const std::string& s) {
  return *IpAddress::parse(s);
}

// A small cluster: three nodes with pod CIDRs, pods on each, services, and
// the EndpointSlices a real cluster has: the API server's own (no
// managed-by label), a selector-less service's mirrored one, and the
// controller's for a service with a pod selector.
void load_cluster(FakeKubeApi& api) {
  api.load("nodes", {fx::node("node-a", "192.168.49.2", "1", "10.244.1.0/24"),
                     fx::node("node-b", "192.168.49.3", "1", "10.244.2.0/24"),
                     fx::node("node-c", "192.168.49.4", "1", "10.244.3.0/24")});
  api.load("pods", {fx::pod({.ns = "shop",
                             .name = "web-7d4b9c6f5d-aaaaa",
                             .owner_kind = "ReplicaSet",
                             .owner_name = "web-7d4b9c6f5d",
                             .template_hash = "7d4b9c6f5d",
                             .ips = {"10.244.1.10"},
                             .node = "node-a"}),
                    fx::pod({.ns = "shop",
                             .name = "web-7d4b9c6f5d-bbbbb",
                             .owner_kind = "ReplicaSet",
                             .owner_name = "web-7d4b9c6f5d",
                             .template_hash = "7d4b9c6f5d",
                             .ips = {"10.244.2.10"},
                             .node = "node-b"}),
                    fx::pod({.ns = "shop",
                             .name = "db-0",
                             .owner_kind = "StatefulSet",
                             .owner_name = "db",
                             .ips = {"10.244.3.20"},
                             .node = "node-c"})});
  api.load("services", {fx::service("shop", "web", {"10.96.0.10"}, "1", 30080),
                        fx::service("default", "kubernetes", {"10.96.0.1"}, "1"),
                        fx::service("shop", "billing-db", {"10.96.0.30"}, "1")});
  api.load("endpointslices",
           {// kube-apiserver's own: its endpoints, on the control plane node and off it.
            fx::endpoint_slice("default", "kubernetes", "kubernetes",
                               {{.ip = "192.168.49.2"}, {.ip = "192.168.49.100"}}, "", "1"),
            // A selector-less service in front of a database outside the cluster.
            fx::endpoint_slice("shop", "billing-db-x7k2p", "billing-db", {{.ip = "203.0.113.7"}},
                               "endpointslicemirroring-controller.k8s.io", "1"),
            // The EndpointSlice controller's, for web's pods.
            fx::endpoint_slice("shop", "web-5jq8x", "web",
                               {{.ip = "10.244.1.10", .pod = "web-7d4b9c6f5d-aaaaa", .node = "node-a"},
                                {.ip = "10.244.2.10", .pod = "web-7d4b9c6f5d-bbbbb", .node = "node-b"}},
                               "endpointslice-controller.k8s.io", "1")});
}

Config node_config(const std::string& kubeconfig) {
  Config c;
  c.kubeconfig = kubeconfig;
  c.node_name = "node-a";
  return c;
}

bool wait_synced(const Metadata& m) {
  return eventually([&] { return m.synced(); });
}

TEST(K8sMetadata, NodeScopeWatchesThisNodeAndLooksUpTheRest) {
  FakeKubeApi api;
  load_cluster(api);
  std::string kc = kubeconfig_for(api);
  auto m = Metadata::start(node_config(kc), no_env());
  ASSERT_TRUE(m.ok()) << m.error().message();
  ASSERT_TRUE(wait_synced(**m));
  ASSERT_NE((*m)->resolver(), nullptr);
  const Index& idx = (*m)->index();
  EXPECT_EQ(idx.stats().pods, 1u);
  EXPECT_EQ(idx.lookup(addr("10.244.1.10"))->name, "web-7d4b9c6f5d-aaaaa");
  // Other nodes' pods: named once a flow shows them.
  idx.lookup(addr("10.244.2.10"));
  idx.lookup(addr("10.244.3.20"));
  ASSERT_TRUE(eventually([&] { return idx.lookup(addr("10.244.3.20")) && idx.lookup(addr("10.244.2.10")); }));
  EXPECT_EQ(idx.lookup(addr("10.244.3.20"))->workload, "db");
  EXPECT_EQ(idx.lookup(addr("10.244.2.10"))->workload, "web");
  EXPECT_EQ(idx.lookup(addr("10.244.2.10"))->kind, ResourceKind::kPod);  // the pod, not web's slice
  EXPECT_EQ(idx.lookup(addr("10.96.0.10"))->name, "web");
  EXPECT_EQ(idx.lookup_node_port("TCP", 30080)->name, "web");
  // Services through EndpointSlices: addresses no pod owns.
  ASSERT_TRUE(eventually([&] { return idx.lookup(addr("203.0.113.7")) != nullptr; }));
  auto db = idx.lookup(addr("203.0.113.7"));
  EXPECT_EQ(db->kind, ResourceKind::kService);
  EXPECT_EQ(db->namespace_, "shop");
  EXPECT_EQ(db->name, "billing-db");
  auto apiserver = idx.lookup(addr("192.168.49.100"));
  ASSERT_TRUE(apiserver);
  EXPECT_EQ(apiserver->name, "kubernetes");
  EXPECT_EQ(apiserver->namespace_, "default");
  // The control plane node serves the API too, and stays the node.
  EXPECT_EQ(idx.lookup(addr("192.168.49.2"))->kind, ResourceKind::kNode);

  auto reqs = api.requests();
  EXPECT_GE(count_matching(reqs, "GET /api/v1/pods?"), 1u);
  EXPECT_EQ(count_matching(reqs, "GET /api/v1/pods?allowWatchBookmarks=true&fieldSelector=spec.nodeName=node-a&"), 1u);
  EXPECT_EQ(
      count_matching(reqs, "labelSelector=endpointslice.kubernetes.io/managed-by!=endpointslice-controller.k8s.io"),
      1u);
  // No pod list or watch of the whole cluster.
  for (const auto& r : reqs) {
    if (r.rfind("GET /api/v1/pods?", 0) == 0) {
      EXPECT_TRUE(r.find("spec.nodeName=") != std::string::npos || r.find("status.podIP=") != std::string::npos) << r;
    }
  }
  std::remove(kc.c_str());
}

TEST(K8sMetadata, ClusterScopeWatchesEveryPodAndLooksNothingUp) {
  FakeKubeApi api;
  load_cluster(api);
  std::string kc = kubeconfig_for(api);
  Config c = node_config(kc);
  c.kube_pods = KubePods::kCluster;
  auto m = Metadata::start(c, no_env());
  ASSERT_TRUE(m.ok()) << m.error().message();
  ASSERT_TRUE(wait_synced(**m));
  EXPECT_EQ((*m)->resolver(), nullptr);
  EXPECT_EQ((*m)->index().stats().pods, 3u);
  EXPECT_EQ((*m)->index().lookup(addr("10.244.3.20"))->name, "db-0");
  EXPECT_EQ(count_matching(api.requests(), "spec.nodeName"), 0u);
  EXPECT_EQ(count_matching(api.requests(), "status.podIP"), 0u);
  std::remove(kc.c_str());
}

TEST(K8sMetadata, LookupRateZeroLeavesOtherNodesPodsUnnamed) {
  FakeKubeApi api;
  load_cluster(api);
  std::string kc = kubeconfig_for(api);
  Config c = node_config(kc);
  c.kube_lookup_rate = 0;
  auto m = Metadata::start(c, no_env());
  ASSERT_TRUE(m.ok()) << m.error().message();
  ASSERT_TRUE(wait_synced(**m));
  EXPECT_EQ((*m)->resolver(), nullptr);
  EXPECT_EQ((*m)->index().lookup(addr("10.244.3.20")), nullptr);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ((*m)->index().lookup(addr("10.244.3.20")), nullptr);
  EXPECT_EQ(count_matching(api.requests(), "status.podIP"), 0u);
  std::remove(kc.c_str());
}

// --kube-lookup-ttl and --kube-lookup-negative-ttl reach the lookups.
TEST(K8sMetadata, LookupTtlsComeFromTheConfiguration) {
  FakeKubeApi api;
  load_cluster(api);
  std::string kc = kubeconfig_for(api);
  for (bool short_ttls : {false, true}) {
    SCOPED_TRACE(short_ttls ? "1s" : "defaults");
    Config c = node_config(kc);
    if (short_ttls) {
      c.kube_lookup_ttl = 1s;
      c.kube_lookup_negative_ttl = 1s;
    }
    auto m = Metadata::start(c, no_env());
    ASSERT_TRUE(m.ok()) << m.error().message();
    ASSERT_TRUE(wait_synced(**m));
    const Index& idx = (*m)->index();
    api.clear_requests();
    idx.lookup(addr("10.244.3.20"));  // db-0
    idx.lookup(addr("10.244.3.99"));  // no pod
    ASSERT_TRUE(
        eventually([&] { return idx.lookup(addr("10.244.3.20")) && (*m)->resolver()->health().not_found == 1; }));
    size_t first = api.requests().size();  // db-0: 1, the missing one: 2 (targeted, then not)
    EXPECT_EQ(first, 3u);
    std::this_thread::sleep_for(1500ms);
    idx.lookup(addr("10.244.3.20"));
    idx.lookup(addr("10.244.3.99"));
    std::this_thread::sleep_for(500ms);
    if (short_ttls) {
      EXPECT_TRUE(eventually([&] { return api.requests().size() == first + 3; })) << api.requests().size();
    } else {
      EXPECT_EQ(api.requests().size(), first);
    }
    (*m)->stop();
  }
  std::remove(kc.c_str());
}

// An RBAC without endpointslices (a chart from before them) costs only
// those names: readiness does not wait for them.
TEST(K8sMetadata, ForbiddenEndpointSlicesDoNotHoldReadinessBack) {
  FakeKubeApi api(FakeKubeApi::Options{.forbidden = {"endpointslices"}});
  load_cluster(api);
  std::string kc = kubeconfig_for(api);
  auto m = Metadata::start(node_config(kc), no_env());
  ASSERT_TRUE(m.ok()) << m.error().message();
  ASSERT_TRUE(wait_synced(**m));
  bool seen = false;
  for (const auto& [kind, h] : (*m)->health()) {
    if (kind != ResourceKind::kEndpointSlice) continue;
    seen = true;
    EXPECT_FALSE(h.synced);
    ASSERT_TRUE(eventually([&] {
      for (const auto& [k, h2] : (*m)->health())
        if (k == ResourceKind::kEndpointSlice && h2.last_error.find("HTTP 403") != std::string::npos) return true;
      return false;
    }));
  }
  EXPECT_TRUE(seen);
  EXPECT_EQ((*m)->index().lookup(addr("203.0.113.7")), nullptr);
  std::remove(kc.c_str());
}

TEST(K8sMetadata, KubeApiOffUsesOnlyThePodsFile) {
  std::string pods =
      temp_file(nlohmann::json{{"kind", "List"}, {"items", {fx::pod({.name = "a", .ips = {"10.0.0.1"}})}}}.dump());
  Config config;
  config.kube_api = KubeApi::kOff;
  config.pods_from = pods;
  auto m = Metadata::start(config, no_env());
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_FALSE((*m)->api_enabled());
  EXPECT_TRUE((*m)->synced());
  EXPECT_TRUE((*m)->index().lookup(*IpAddress::parse("10.0.0.1")));
  std::remove(pods.c_str());
}

TEST(K8sMetadata, NoApiAndNoPodsFileIsAnError) {
  Config config;
  auto m = Metadata::start(config, no_env());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message().find("--kube-api=off"), std::string::npos);
  config.pods_from = "/nonexistent/pods.json";
  auto bad = Metadata::start(config, no_env());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("/nonexistent/pods.json"), std::string::npos);
}

}  // namespace
