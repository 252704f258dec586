#include <gtest/gtest.h>

#include <sstream>

#include "agent/k8s/sax.hpp"
#include "tests/testing/k8s_objects.hpp"

namespace {

using namespace netring::agent::k8s;
namespace fx = netring::testing::k8s;
using json = nlohmann::json;

TEST(K8sSax, PodListItemsAndListMetadata) {
  fx::PodSpec a{.ns = "shop",
                .name = "web-7d4b9c6f5d-x2x9k",
                .owner_kind = "ReplicaSet",
                .owner_name = "web-7d4b9c6f5d",
                .template_hash = "7d4b9c6f5d",
                .ips = {"10.244.1.7", "fd00::7"}};
  fx::PodSpec b{.ns = "kube-system",
                .name = "kube-proxy-abcde",
                .owner_kind = "DaemonSet",
                .owner_name = "kube-proxy",
                .ips = {"192.168.49.2"},
                .host_network = true};
  std::string doc = fx::list("PodList", {fx::pod(a), fx::pod(b)}, "52811", "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ").dump();
  std::vector<Object> items;
  auto info = parse_list(doc, [&](Object&& o) { items.push_back(std::move(o)); });
  ASSERT_TRUE(info.ok()) << info.error().message();
  EXPECT_EQ(info->kind, "PodList");
  EXPECT_EQ(info->resource_version, "52811");
  EXPECT_EQ(info->continue_token, "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ");
  EXPECT_EQ(info->items, 2u);
  ASSERT_EQ(items.size(), 2u);
  const Object& p = items[0];
  EXPECT_EQ(p.kind, "");  // API list items carry no kind
  EXPECT_EQ(p.name, "web-7d4b9c6f5d-x2x9k");
  EXPECT_EQ(p.namespace_, "shop");
  EXPECT_FALSE(p.uid.empty());
  EXPECT_EQ(p.resource_version, "1000");
  EXPECT_EQ(p.pod_template_hash, "7d4b9c6f5d");
  ASSERT_EQ(p.owners.size(), 1u);
  EXPECT_EQ(p.owners[0].kind, "ReplicaSet");
  EXPECT_EQ(p.owners[0].name, "web-7d4b9c6f5d");
  EXPECT_TRUE(p.owners[0].controller);
  EXPECT_EQ(p.node_name, "node-a");
  EXPECT_FALSE(p.host_network);
  EXPECT_EQ(p.phase, "Running");
  EXPECT_EQ(p.pod_ip, "10.244.1.7");
  EXPECT_EQ(p.pod_ips, (std::vector<std::string>{"10.244.1.7", "fd00::7"}));
  EXPECT_EQ(p.host_ip, "192.168.49.2");  // status.hostIPs[].ip is not mistaken for a pod IP
  EXPECT_TRUE(p.addresses.empty());
  EXPECT_TRUE(items[1].host_network);
  EXPECT_EQ(items[1].owners[0].kind, "DaemonSet");
}

TEST(K8sSax, ServicesAndNodes) {
  std::string svcs = fx::list("ServiceList", {fx::service("shop", "web", {"10.96.0.10"}, "7", 30080)}, "8").dump();
  std::vector<Object> items;
  ASSERT_TRUE(parse_list(svcs, [&](Object&& o) { items.push_back(std::move(o)); }).ok());
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].cluster_ip, "10.96.0.10");
  EXPECT_EQ(items[0].cluster_ips, (std::vector<std::string>{"10.96.0.10"}));
  EXPECT_EQ(items[0].service_type, "NodePort");
  ASSERT_EQ(items[0].ports.size(), 1u);
  EXPECT_EQ(items[0].ports[0].protocol, "TCP");
  EXPECT_EQ(items[0].ports[0].port, 80);
  EXPECT_EQ(items[0].ports[0].node_port, 30080);

  items.clear();
  std::string nodes = fx::list("NodeList", {fx::node("node-a", "192.168.49.2", "3")}, "4").dump();
  ASSERT_TRUE(parse_list(nodes, [&](Object&& o) { items.push_back(std::move(o)); }).ok());
  ASSERT_EQ(items[0].addresses.size(), 2u);
  EXPECT_EQ(items[0].addresses[0].type, "InternalIP");
  EXPECT_EQ(items[0].addresses[0].address, "192.168.49.2");
  EXPECT_EQ(items[0].addresses[1].type, "Hostname");
}

TEST(K8sSax, StatusBodyIsReported) {
  auto info = parse_list(fx::status_gone("The provided continue parameter is too old").dump(),
                         [](Object&&) { ADD_FAILURE() << "a Status has no items"; });
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->kind, "Status");
  EXPECT_EQ(info->status.code, 410);
  EXPECT_EQ(info->status.reason, "Expired");
  EXPECT_EQ(info->status.message, "The provided continue parameter is too old");
}

TEST(K8sSax, WatchEvents) {
  fx::PodSpec a{.ns = "shop",
                .name = "db-0",
                .owner_kind = "StatefulSet",
                .owner_name = "db",
                .ips = {"10.244.1.9"},
                .resource_version = "60001"};
  for (const char* type : {"ADDED", "MODIFIED", "DELETED"}) {
    std::string line = fx::watch_line(type, fx::pod(a));
    auto ev = parse_watch_event(line);
    ASSERT_TRUE(ev.ok()) << ev.error().message();
    EXPECT_STREQ(to_string(ev->type), type);
    EXPECT_EQ(ev->object.kind, "Pod");
    EXPECT_EQ(ev->object.name, "db-0");
    EXPECT_EQ(ev->object.resource_version, "60001");
    EXPECT_EQ(ev->object.pod_ips, (std::vector<std::string>{"10.244.1.9"}));
  }
  auto bm = parse_watch_event(fx::watch_line("BOOKMARK", fx::bookmark("Pod", "60100")));
  ASSERT_TRUE(bm.ok());
  EXPECT_EQ(bm->type, EventType::kBookmark);
  EXPECT_EQ(bm->object.resource_version, "60100");

  auto err = parse_watch_event(fx::watch_line("ERROR", fx::status_gone("too old resource version: 100 (60000)")));
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->type, EventType::kError);
  EXPECT_EQ(err->object.kind, "Status");
  EXPECT_EQ(err->object.code, 410);
  EXPECT_EQ(err->object.reason, "Expired");
}

TEST(K8sSax, MalformedInputIsAnErrorNotACrash) {
  EXPECT_FALSE(parse_watch_event("{\"type\":\"ADDED\",\"object\":{\"metadata\":").ok());
  EXPECT_FALSE(parse_watch_event("{\"type\":\"RENAMED\",\"object\":{}}").ok());
  EXPECT_FALSE(parse_watch_event("{\"type\":\"ADDED\"}").ok());
  auto r = parse_list("{\"items\":[{\"metadata\":{\"name\":\"a\"}},", [](Object&&) {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("parse Kubernetes list"), std::string::npos);
  EXPECT_FALSE(parse_list("{\"kind\":\"Pod\",\"metadata\":{\"name\":\"x\"}}", [](Object&&) {}).ok());
}

TEST(K8sSax, FieldsAndListsAreCapped) {
  json p = fx::pod({.name = std::string(1000, 'a'), .ips = {"10.0.0.1"}});
  json owners = json::array();
  for (int i = 0; i < 100; ++i) owners.push_back({{"kind", "ReplicaSet"}, {"name", "rs" + std::to_string(i)}});
  p["metadata"]["ownerReferences"] = owners;
  json ips = json::array();
  for (int i = 0; i < 100; ++i) ips.push_back({{"ip", "10.0.1." + std::to_string(i)}});
  p["status"]["podIPs"] = ips;
  auto ev = parse_watch_event(fx::watch_line("ADDED", p));
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->object.name.size(), kMaxNameLen);
  EXPECT_EQ(ev->object.owners.size(), kMaxListEntries);
  EXPECT_EQ(ev->object.owners.back().name, "rs" + std::to_string(kMaxListEntries - 1));
  EXPECT_EQ(ev->object.pod_ips.size(), kMaxListEntries);
}

TEST(K8sSax, StreamsFromAnIstream) {
  std::vector<json> pods;
  for (int i = 0; i < 50; ++i)
    pods.push_back(fx::pod({.name = "p" + std::to_string(i), .ips = {"10.1.0." + std::to_string(i)}}));
  std::stringstream ss(fx::list("PodList", pods, "9").dump(2));
  size_t n = 0;
  auto info = parse_list(ss, [&](Object&& o) { EXPECT_EQ(o.name, "p" + std::to_string(n++)); });
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(n, 50u);
}

}  // namespace
