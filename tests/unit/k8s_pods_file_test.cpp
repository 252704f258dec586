#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "agent/k8s/pods_file.hpp"
#include "tests/testing/k8s_objects.hpp"

namespace {

using namespace netring::agent;
using namespace netring::agent::k8s;
namespace fx = netring::testing::k8s;

std::string write_temp(const std::string& content) {
  char tmpl[] = "/tmp/netring-pods-XXXXXX";
  int fd = mkstemp(tmpl);
  ::close(fd);
  std::ofstream(tmpl) << content;
  return tmpl;
}

// `kubectl get pods -A -o json` prints a "List" whose items keep kind/apiVersion, pretty-printed.
std::string kubectl_output(const std::vector<nlohmann::json>& pods) {
  return nlohmann::json{
      {"apiVersion", "v1"}, {"items", pods}, {"kind", "List"}, {"metadata", {{"resourceVersion", ""}}}}
      .dump(4);
}

TEST(PodsFile, LoadsKubectlOutput) {
  std::string path = write_temp(kubectl_output({
      fx::pod({.ns = "demo",
               .name = "client-5d8f7c6b4-abcde",
               .owner_kind = "ReplicaSet",
               .owner_name = "client-5d8f7c6b4",
               .template_hash = "5d8f7c6b4",
               .ips = {"10.88.0.2"}}),
      fx::pod({.ns = "demo",
               .name = "server-0",
               .owner_kind = "StatefulSet",
               .owner_name = "server",
               .ips = {"10.88.0.3"}}),
      fx::pod({.ns = "kube-system",
               .name = "node-exporter-q2w3e",
               .owner_kind = "DaemonSet",
               .owner_name = "node-exporter",
               .ips = {"192.168.1.10"},
               .host_network = true}),
  }));
  Index idx;
  auto n = load_pods_file(path, idx);
  std::remove(path.c_str());
  ASSERT_TRUE(n.ok()) << n.error().message();
  EXPECT_EQ(*n, 3u);
  auto c = idx.lookup(*IpAddress::parse("10.88.0.2"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->namespace_, "demo");
  EXPECT_EQ(c->workload_kind, "Deployment");
  EXPECT_EQ(c->workload, "client");
  EXPECT_EQ(idx.lookup(*IpAddress::parse("10.88.0.3"))->workload, "server");
  EXPECT_FALSE(idx.lookup(*IpAddress::parse("192.168.1.10")));  // hostNetwork pods are not an identity for the node IP
}

TEST(PodsFile, ReloadDropsPodsNoLongerListed) {
  Index idx({.pod_grace = std::chrono::milliseconds(0)});
  std::string path = write_temp(
      kubectl_output({fx::pod({.name = "a", .ips = {"10.0.0.1"}}), fx::pod({.name = "b", .ips = {"10.0.0.2"}})}));
  ASSERT_TRUE(load_pods_file(path, idx).ok());
  std::ofstream(path, std::ios::trunc) << kubectl_output({fx::pod({.name = "b", .ips = {"10.0.0.2"}})});
  ASSERT_TRUE(load_pods_file(path, idx).ok());
  std::remove(path.c_str());
  EXPECT_FALSE(idx.lookup(*IpAddress::parse("10.0.0.1")));
  EXPECT_TRUE(idx.lookup(*IpAddress::parse("10.0.0.2")));
}

TEST(PodsFile, ErrorsNameTheFile) {
  Index idx;
  auto missing = load_pods_file("/nonexistent/pods.json", idx);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("/nonexistent/pods.json"), std::string::npos);
  EXPECT_EQ(missing.error().code(), ENOENT);

  std::string path = write_temp("{\"kind\": \"List\", \"items\": [ {\"metadata\": ");
  auto bad = load_pods_file(path, idx);
  std::remove(path.c_str());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find(path), std::string::npos) << bad.error().message();
  EXPECT_EQ(idx.stats().pods, 0u);
}

}  // namespace
