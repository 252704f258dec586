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
  EXPECT_EQ(idx.lookup(*IpAddr::parse("10.244.3.3"))->workload, "db");
  EXPECT_EQ(idx.lookup(*IpAddr::parse("10.96.3.3"))->kind, ResourceKind::kService);
  EXPECT_EQ(idx.lookup(*IpAddr::parse("192.168.49.2"))->kind, ResourceKind::kNode);
  EXPECT_EQ(idx.lookup(*IpAddr::parse("10.250.0.9"))->name, "probe");
  auto health = (*m)->health();
  ASSERT_EQ(health.size(), 3u);
  EXPECT_EQ(api.max_open_watches("pods"), 1);
  (*m)->stop();
  std::remove(kubeconfig.c_str());
  std::remove(pods.c_str());
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
  EXPECT_TRUE((*m)->index().lookup(*IpAddr::parse("10.0.0.1")));
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
