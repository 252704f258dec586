// The Kubernetes HTTPS client and its configuration sources, against a FAKE
// API server (tests/testing/fake_kube_api.hpp; no real kube-apiserver can run
// on the test machines) with a CA and certificates made at test time.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "agent/k8s/client.hpp"
#include "tests/testing/base64.hpp"
#include "tests/testing/fake_kube_api.hpp"
#include "tests/testing/k8s_objects.hpp"

namespace {

using namespace netring::agent;
using namespace netring::agent::k8s;
using netring::Result;
using netring::testing::b64;
using netring::testing::FakeKubeApi;
using netring::testing::TestCa;
namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/netring-k8s-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name, const std::string& content) const {
    std::string p = path_ + "/" + name;
    fs::create_directories(fs::path(p).parent_path());
    std::ofstream(p) << content;
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Result<Client::Response> get_pods(const ClientConfig& cfg, std::string* body = nullptr) {
  auto c = Client::create(cfg);
  if (!c) return std::move(c).take_error();
  return (*c)->get(
      "/api/v1/pods?limit=10",
      [&](std::string_view d) {
        if (body) body->append(d);
        return true;
      },
      std::chrono::seconds(30));
}

TEST(K8sClient, HttpsWithTheClusterCaAndBearerToken) {
  FakeKubeApi api;
  api.load("pods", {netring::testing::k8s::pod({.name = "a", .ips = {"10.0.0.1"}})});
  std::string body;
  auto r = get_pods(api.client_config(), &body);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(body.find("\"kind\":\"PodList\""), std::string::npos);
  auto reqs = api.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0], "GET /api/v1/pods?limit=10");
}

TEST(K8sClient, RejectsAServerSignedByAnotherCa) {
  FakeKubeApi api;
  auto cfg = api.client_config();
  cfg.ca_pem = TestCa("some-other-ca").ca().cert_pem;
  auto r = get_pods(cfg);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("TLS verification failed"), std::string::npos) << r.error().message();
  EXPECT_TRUE(api.requests().empty());  // no request (and no token) reached the impostor
}

TEST(K8sClient, RejectsAServerWhoseNameDoesNotMatch) {
  FakeKubeApi api(FakeKubeApi::Options{.cert_for_loopback = false});  // certificate names only kubernetes.default.svc
  auto cfg = api.client_config();
  auto r = get_pods(cfg);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("TLS verification failed"), std::string::npos) << r.error().message();
}

TEST(K8sClient, WrongTokenGets401StatusBody) {
  FakeKubeApi api;
  auto cfg = api.client_config();
  cfg.token = "nope";
  auto c = Client::create(cfg);
  ASSERT_TRUE(c.ok());
  bool data_called = false;
  auto r = (*c)->get(
      "/api/v1/pods", [&](std::string_view) { return data_called = true; }, std::chrono::seconds(30));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401);
  EXPECT_FALSE(data_called);
  EXPECT_NE(r->error_body.find("\"kind\":\"Status\""), std::string::npos);
}

TEST(K8sClient, ConnectionRefusedIsAnErrorNamingTheServer) {
  ClientConfig cfg;
  cfg.host = "127.0.0.1";
  cfg.port = 1;  // nothing listens there
  cfg.ca_pem = TestCa().ca().cert_pem;
  auto r = get_pods(cfg);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("127.0.0.1:1/api/v1/pods"), std::string::npos) << r.error().message();
}

TEST(K8sClient, InClusterServiceAccount) {
  FakeKubeApi api;
  TempDir sa;
  sa.file("ca.crt", api.ca().ca().cert_pem);
  sa.file("token", "test-token\n");  // the kubelet's file ends with a newline
  std::map<std::string, std::string> vars = {{"KUBERNETES_SERVICE_HOST", "127.0.0.1"},
                                             {"KUBERNETES_SERVICE_PORT", std::to_string(api.port())}};
  EnvLookup env = [&](const std::string& n) -> std::optional<std::string> {
    auto it = vars.find(n);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  auto cfg = in_cluster_config(env, sa.path());
  ASSERT_TRUE(cfg.ok()) << cfg.error().message();
  EXPECT_EQ(cfg->token_file, sa.path() + "/token");
  auto r = get_pods(*cfg);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->status, 200);

  // A rotated token is picked up on the next request.
  sa.file("token", "rotated\n");
  r = get_pods(*cfg);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401);

  // Discovery prefers --kubeconfig, then in-cluster (here: the standard service account path, absent).
  Config config;
  auto in_cluster = discover_client_config(config, env);
  ASSERT_FALSE(in_cluster.ok());
  EXPECT_NE(in_cluster.error().message().find(kServiceAccountDir), std::string::npos);
  config.kubeconfig = "/nonexistent/kubeconfig";
  auto via_kubeconfig = discover_client_config(config, env);
  ASSERT_FALSE(via_kubeconfig.ok());
  EXPECT_NE(via_kubeconfig.error().message().find("/nonexistent/kubeconfig"), std::string::npos);
  config.kubeconfig.clear();
  vars.clear();
  auto none = discover_client_config(config, env);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message().find("--kube-api=off"), std::string::npos);
  auto missing = in_cluster_config(
      [](const std::string& n) {
        return n == "KUBERNETES_SERVICE_HOST" ? std::optional<std::string>("10.96.0.1") : std::nullopt;
      },
      "/nonexistent/sa");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("/nonexistent/sa/ca.crt"), std::string::npos);
}

std::string kubeconfig(const std::string& server, const std::string& cluster_extra, const std::string& user) {
  return "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
         "preferences: {}\n"
         "clusters:\n- name: other\n  cluster:\n    server: https://10.0.0.1:6443\n"
         "- name: fake\n  cluster:\n    server: " +
         server + "\n" + cluster_extra +
         "contexts:\n- name: test\n  context:\n    cluster: fake\n    user: tester\n    namespace: default\n"
         "users:\n- name: tester\n  user:\n" +
         user;
}

TEST(K8sClient, KubeconfigWithTokenAndCaData) {
  FakeKubeApi api;
  TempDir dir;
  std::string path =
      dir.file("config", kubeconfig("https://127.0.0.1:" + std::to_string(api.port()),
                                    "    certificate-authority-data: " + b64(api.ca().ca().cert_pem) + "\n",
                                    "    token: test-token\n"));
  auto cfg = kubeconfig_config(path);
  ASSERT_TRUE(cfg.ok()) << cfg.error().message();
  EXPECT_EQ(cfg->host, "127.0.0.1");
  EXPECT_EQ(cfg->port, api.port());
  auto r = get_pods(*cfg);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->status, 200);
}

TEST(K8sClient, KubeconfigWithClientCertificateFilesRelativeToIt) {
  FakeKubeApi api(FakeKubeApi::Options{.require_client_cert = true});
  auto client = api.ca().issue("system:node:node-a");
  TempDir dir;
  dir.file("pki/ca.crt", api.ca().ca().cert_pem);
  dir.file("pki/client.crt", client.cert_pem);
  dir.file("pki/client.key", client.key_pem);
  std::string path = dir.file("kube/config", kubeconfig("https://localhost:" + std::to_string(api.port()) + "/",
                                                        "    certificate-authority: ../pki/ca.crt\n",
                                                        "    client-certificate: ../pki/client.crt\n"
                                                        "    client-key: ../pki/client.key\n"));
  auto cfg = kubeconfig_config(path);
  ASSERT_TRUE(cfg.ok()) << cfg.error().message();
  EXPECT_TRUE(cfg->token.empty());
  auto r = get_pods(*cfg);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->status, 200);

  // Without the certificate the server refuses the handshake.
  ClientConfig no_cert = *cfg;
  no_cert.client_cert_pem.clear();
  no_cert.client_key_pem.clear();
  auto denied = get_pods(no_cert);
  EXPECT_TRUE(!denied.ok() || denied->status == 401);
}

TEST(K8sClient, KubeconfigWithClientCertificateData) {
  FakeKubeApi api(FakeKubeApi::Options{.require_client_cert = true});
  auto client = api.ca().issue("admin");
  TempDir dir;
  std::string path =
      dir.file("config", kubeconfig("https://127.0.0.1:" + std::to_string(api.port()),
                                    "    certificate-authority-data: " + b64(api.ca().ca().cert_pem) + "\n",
                                    "    client-certificate-data: " + b64(client.cert_pem) + "\n" +
                                        "    client-key-data: " + b64(client.key_pem) + "\n"));
  auto cfg = kubeconfig_config(path);
  ASSERT_TRUE(cfg.ok()) << cfg.error().message();
  auto r = get_pods(*cfg);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->status, 200);
}

TEST(K8sClient, KubeconfigErrorsSayWhatIsWrong) {
  TempDir dir;
  auto missing = kubeconfig_config(dir.path() + "/none");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("--kubeconfig"), std::string::npos);

  auto no_ctx = kubeconfig_config(dir.file("a", "apiVersion: v1\nkind: Config\nclusters: []\n"));
  ASSERT_FALSE(no_ctx.ok());
  EXPECT_NE(no_ctx.error().message().find("no current-context"), std::string::npos);

  auto exec = kubeconfig_config(
      dir.file("b", kubeconfig("https://127.0.0.1:6443", "", "    exec:\n      command: aws\n      apiVersion: x\n")));
  ASSERT_FALSE(exec.ok());
  EXPECT_NE(exec.error().message().find("exec/auth-provider plugin"), std::string::npos);

  auto bad_url = kubeconfig_config(dir.file("c", kubeconfig("127.0.0.1:6443", "", "    token: t\n")));
  ASSERT_FALSE(bad_url.ok());
  EXPECT_NE(bad_url.error().message().find("expected https://host[:port]"), std::string::npos);

  auto bad_yaml = kubeconfig_config(dir.file("d", "clusters: [\n"));
  ASSERT_FALSE(bad_yaml.ok());
  EXPECT_NE(bad_yaml.error().message().find("parse kubeconfig"), std::string::npos);
}

}  // namespace
