// The FAKE Kubernetes API server (tests/testing/fake_kube_api.hpp) against
// the behaviour of the real kube-apiserver it stands in for: no real API
// server can run on the test machines, so what the agent's tests prove is
// only as good as this fake's faithfulness. Each expectation below is the
// real server's documented or source-code behaviour (named in the test).
#include <gtest/gtest.h>

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "tests/testing/base64.hpp"
#include "tests/testing/fake_kube_api.hpp"
#include "tests/testing/k8s_objects.hpp"

namespace {

using netring::testing::FakeKubeApi;
namespace fx = netring::testing::k8s;
using json = nlohmann::json;

struct Reply {
  int status = 0;
  std::string body;
  json doc() const { return json::parse(body, nullptr, false); }
  // The lines of a watch stream, parsed.
  std::vector<json> events() const {
    std::vector<json> out;
    size_t pos = 0;
    while (pos < body.size()) {
      size_t nl = body.find('\n', pos);
      if (nl == std::string::npos) nl = body.size();
      if (nl > pos) out.push_back(json::parse(body.substr(pos, nl - pos)));
      pos = nl + 1;
    }
    return out;
  }
};

// A plain HTTPS GET (the fake is what is under test, not the agent's client).
Reply get(const FakeKubeApi& api, const std::string& path, const std::string& accept = "application/json") {
  httplib::SSLClient c("127.0.0.1", api.port());
  c.enable_server_certificate_verification(false);
  c.set_read_timeout(30, 0);
  httplib::Headers h = {{"Authorization", "Bearer test-token"}};
  if (!accept.empty()) h.emplace("Accept", accept);
  auto r = c.Get(path.c_str(), h);
  if (!r) return {};
  return {r->status, r->body};
}

std::string escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

nlohmann::json pod_on(const std::string& name, const std::string& node, const std::string& ip,
                      const std::string& phase = "Running") {
  return fx::pod({.ns = "shop", .name = name, .ips = {ip}, .node = node, .phase = phase});
}

void load_pods(FakeKubeApi& api, int n) {
  std::vector<json> pods;
  for (int i = 0; i < n; ++i)
    pods.push_back(pod_on("p" + std::to_string(1000 + i), i % 2 ? "node-b" : "node-a", "10.8.0." + std::to_string(i)));
  api.load("pods", pods);
}

// cacher.go: a list with resourceVersion=0 is served from the watch cache,
// which ignores limit ("as of today, the limit is ignored for requests that
// set RV == 0"): one body, no continue token.
TEST(K8sFakeApi, ResourceVersionZeroIgnoresLimit) {
  FakeKubeApi api;
  load_pods(api, 250);
  auto r = get(api, "/api/v1/pods?limit=100&resourceVersion=0");
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = r.doc();
  EXPECT_EQ(d["kind"], "PodList");
  EXPECT_EQ(d["items"].size(), 250u);
  EXPECT_FALSE(d["metadata"].contains("continue"));
  EXPECT_EQ(d["metadata"]["resourceVersion"], std::to_string(api.revision()));
}

// A consistent list (resourceVersion unset) honours limit with a continue
// token and remainingItemCount; the token's pages follow in key order.
TEST(K8sFakeApi, ConsistentListsArePaginated) {
  FakeKubeApi api;
  load_pods(api, 250);
  auto r = get(api, "/api/v1/pods?limit=100");
  ASSERT_EQ(r.status, 200);
  auto d = r.doc();
  ASSERT_EQ(d["items"].size(), 100u);
  ASSERT_TRUE(d["metadata"].contains("continue"));
  EXPECT_EQ(d["metadata"]["remainingItemCount"], 150);
  std::set<std::string> names;
  for (const auto& it : d["items"]) names.insert(it["metadata"]["name"].get<std::string>());
  std::string token = d["metadata"]["continue"];
  while (!token.empty()) {
    auto next = get(api, "/api/v1/pods?limit=100&continue=" + escape(token)).doc();
    for (const auto& it : next["items"]) names.insert(it["metadata"]["name"].get<std::string>());
    token = next["metadata"].value("continue", "");
  }
  EXPECT_EQ(names.size(), 250u);
  // etcd3 store: a continue token comes with no other resourceVersion.
  auto bad = get(
      api, "/api/v1/pods?limit=100&resourceVersion=5&continue=" + escape(d["metadata"]["continue"].get<std::string>()));
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("specifying resource version is not allowed when using continue"), std::string::npos);
}

// apimachinery's ListOptions validation answers 422 Invalid with causes.
TEST(K8sFakeApi, ListOptionsValidationIsA422WithCauses) {
  FakeKubeApi api;
  auto r = get(api, "/api/v1/pods?resourceVersionMatch=NotOlderThan");
  EXPECT_EQ(r.status, 422);
  auto d = r.doc();
  EXPECT_EQ(d["reason"], "Invalid");
  EXPECT_EQ(d["details"]["kind"], "ListOptions");
  EXPECT_EQ(d["message"],
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is "
            "forbidden unless resourceVersion is provided");
  EXPECT_EQ(get(api, "/api/v1/pods?sendInitialEvents=true").status, 422);  // forbidden for list
  EXPECT_EQ(get(api, "/api/v1/pods?resourceVersion=0&resourceVersionMatch=Exact").status, 422);
  // A watch needs resourceVersionMatch=NotOlderThan with sendInitialEvents, and not without.
  EXPECT_EQ(get(api, "/api/v1/pods?watch=1&sendInitialEvents=true&timeoutSeconds=1").status, 422);
  EXPECT_EQ(get(api, "/api/v1/pods?watch=1&resourceVersionMatch=NotOlderThan&timeoutSeconds=1").status, 422);
}

// KEP-3157 watch-list: initial ADDED events, then a BOOKMARK annotated
// k8s.io/initial-events-end at the state's resourceVersion, then changes.
TEST(K8sFakeApi, WatchListEndsItsInitialEventsWithAnAnnotatedBookmark) {
  FakeKubeApi api;
  load_pods(api, 3);
  std::string rv = std::to_string(api.revision());
  auto r = get(api,
               "/api/v1/pods?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
               "&timeoutSeconds=1");
  ASSERT_EQ(r.status, 200) << r.body;
  auto ev = r.events();
  ASSERT_EQ(ev.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ev[i]["type"], "ADDED");
    EXPECT_EQ(ev[i]["object"]["kind"], "Pod");  // watch events carry kind and apiVersion
    EXPECT_EQ(ev[i]["object"]["apiVersion"], "v1");
  }
  EXPECT_EQ(ev[3]["type"], "BOOKMARK");
  EXPECT_EQ(ev[3]["object"]["metadata"]["resourceVersion"], rv);
  EXPECT_EQ(ev[3]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
  // Without allowWatchBookmarks there is no bookmark to end them.
  auto nb = get(api, "/api/v1/pods?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1");
  EXPECT_EQ(nb.events().size(), 3u);
}

// With the WatchList gate off (the 1.33 default) the stream is refused with
// the exact Status client-go falls back on.
TEST(K8sFakeApi, WatchListRefusedWhenTheGateIsOff) {
  FakeKubeApi api(FakeKubeApi::Options{.watch_list = false});
  auto r = get(api,
               "/api/v1/pods?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
               "&timeoutSeconds=1");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.doc()["message"],
            "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for "
            "watch unless the WatchList feature gate is enabled");
  EXPECT_EQ(r.doc()["details"]["causes"][0]["field"], "sendInitialEvents");
}

// Field selectors: only the selectable fields (pods: conversion.go), 400
// otherwise; "=" and "!=" both filter lists and initial events.
TEST(K8sFakeApi, FieldSelectorsFilterAndRefuseUnknownFields) {
  FakeKubeApi api;
  load_pods(api, 10);
  auto r = get(api, "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-b&resourceVersion=0");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.doc()["items"].size(), 5u);
  for (const auto& it : r.doc()["items"]) EXPECT_EQ(it["spec"]["nodeName"], "node-b");
  auto ip = get(api, "/api/v1/pods?fieldSelector=status.podIP%3D10.8.0.7%2Cspec.nodeName%3Dnode-b");
  ASSERT_EQ(ip.doc()["items"].size(), 1u);
  EXPECT_EQ(ip.doc()["items"][0]["metadata"]["name"], "p1007");
  EXPECT_EQ(
      get(api, "/api/v1/pods?fieldSelector=status.podIP%3D10.8.0.7%2Cspec.nodeName%3Dnode-a").doc()["items"].size(),
      0u);
  EXPECT_EQ(get(api, "/api/v1/pods?fieldSelector=spec.nodeName!%3Dnode-b").doc()["items"].size(), 5u);
  auto bad = get(api, "/api/v1/pods?fieldSelector=status.hostIP%3D1.2.3.4");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.doc()["message"], "field label not supported: status.hostIP");
  // The node's pods come from the cache's spec.nodeName index: only they are looked at.
  uint64_t before = api.objects_examined();
  get(api, "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&resourceVersion=0");
  EXPECT_EQ(api.objects_examined() - before, 5u);
  before = api.objects_examined();
  get(api, "/api/v1/pods?fieldSelector=status.podIP%3D10.8.0.7&resourceVersion=0");
  EXPECT_EQ(api.objects_examined() - before, 10u);  // no index: every pod
}

// Label selectors, set-based included; "!=" holds for objects without the
// label (the API server's own "kubernetes" EndpointSlice has no managed-by).
TEST(K8sFakeApi, LabelSelectorsOnEndpointSlices) {
  FakeKubeApi api;
  api.load("endpointslices",
           {fx::endpoint_slice("default", "kubernetes", "kubernetes", {{.ip = "192.168.49.100"}}, "", "1"),
            fx::endpoint_slice("shop", "web-abcde", "web", {{.ip = "10.8.0.1", .pod = "p1000"}},
                               "endpointslice-controller.k8s.io", "1"),
            fx::endpoint_slice("shop", "db-ext", "db", {{.ip = "203.0.113.7"}},
                               "endpointslicemirroring-controller.k8s.io", "1")});
  auto r = get(api,
               "/apis/discovery.k8s.io/v1/endpointslices?labelSelector=endpointslice.kubernetes.io%2Fmanaged-by!%3D"
               "endpointslice-controller.k8s.io");
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = r.doc();
  EXPECT_EQ(d["kind"], "EndpointSliceList");
  EXPECT_EQ(d["apiVersion"], "discovery.k8s.io/v1");
  ASSERT_EQ(d["items"].size(), 2u);
  EXPECT_EQ(d["items"][0]["metadata"]["name"], "kubernetes");
  EXPECT_EQ(d["items"][1]["metadata"]["name"], "db-ext");
  EXPECT_EQ(
      get(api, "/apis/discovery.k8s.io/v1/endpointslices?labelSelector=kubernetes.io%2Fservice-name%20in%20(web,db)")
          .doc()["items"]
          .size(),
      2u);
  EXPECT_EQ(get(api, "/apis/discovery.k8s.io/v1/endpointslices?labelSelector=!endpointslice.kubernetes.io%2Fmanaged-by")
                .doc()["items"]
                .size(),
            1u);
  EXPECT_EQ(get(api, "/apis/discovery.k8s.io/v1/endpointslices?labelSelector=a%20in%20b").status, 400);
}

// cache_watcher.go: with a selector, an object entering it is ADDED, one
// leaving it DELETED (its previous state at the new resourceVersion).
TEST(K8sFakeApi, SelectedWatchesSeeObjectsEnterAndLeave) {
  FakeKubeApi api;
  api.load("pods", {pod_on("a", "node-a", "10.8.0.1")});
  std::string rv = std::to_string(api.revision());
  api.modify("pods", pod_on("a", "node-a", "10.8.0.1", "Succeeded"));  // leaves status.phase=Running
  api.add("pods", fx::pod({.ns = "shop", .name = "b", .ips = {}, .node = "", .phase = "Pending"}));
  api.modify("pods", pod_on("b", "node-a", "10.8.0.2"));  // bound and running: enters
  api.modify("pods", pod_on("b", "node-a", "10.8.0.2"));
  api.remove("pods", "shop", "b");
  auto r = get(api, "/api/v1/pods?watch=1&resourceVersion=" + rv +
                        "&fieldSelector=status.phase%3DRunning%2Cspec.nodeName%3Dnode-a&timeoutSeconds=1");
  ASSERT_EQ(r.status, 200);
  auto ev = r.events();
  ASSERT_EQ(ev.size(), 4u) << r.body;
  EXPECT_EQ(ev[0]["type"], "DELETED");
  EXPECT_EQ(ev[0]["object"]["metadata"]["name"], "a");
  EXPECT_EQ(ev[0]["object"]["status"]["phase"], "Running");  // the state that matched...
  EXPECT_EQ(ev[0]["object"]["metadata"]["resourceVersion"], std::to_string(std::stoull(rv) + 1));  // ...now
  EXPECT_EQ(ev[1]["type"], "ADDED");
  EXPECT_EQ(ev[1]["object"]["metadata"]["name"], "b");
  EXPECT_EQ(ev[2]["type"], "MODIFIED");
  EXPECT_EQ(ev[3]["type"], "DELETED");
}

// A watch from a version older than the history: an ERROR event with a 410
// Status (or HTTP 410 when so configured).
TEST(K8sFakeApi, WatchesFromForgottenVersionsGet410) {
  FakeKubeApi api(FakeKubeApi::Options{.max_history = 2});
  api.load("pods", {pod_on("a", "node-a", "10.8.0.1")});
  std::string old = std::to_string(api.revision());
  for (int i = 0; i < 3; ++i) api.modify("pods", pod_on("a", "node-a", "10.8.0." + std::to_string(i + 2)));
  auto r = get(api, "/api/v1/pods?watch=1&resourceVersion=" + old + "&timeoutSeconds=1");
  auto ev = r.events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0]["type"], "ERROR");
  EXPECT_EQ(ev[0]["object"]["code"], 410);
  // The last two changes are still there to resume from.
  auto ok =
      get(api, "/api/v1/pods?watch=1&resourceVersion=" + std::to_string(api.revision() - 2) + "&timeoutSeconds=1");
  EXPECT_EQ(ok.events().size(), 2u);
}

// Accept negotiation: JSON in its forms; what the real server also serves
// but this fake does not implement is refused naming the fake; anything
// else gets the real server's 406.
TEST(K8sFakeApi, AcceptNegotiation) {
  FakeKubeApi api;
  EXPECT_EQ(get(api, "/api/v1/nodes", "application/json, */*").status, 200);
  EXPECT_EQ(get(api, "/api/v1/nodes", "").status, 200);
  EXPECT_EQ(get(api, "/api/v1/nodes", "text/html, application/json;q=0.9").status, 200);
  auto html = get(api, "/api/v1/nodes", "text/html");
  EXPECT_EQ(html.status, 406);
  EXPECT_EQ(html.doc()["reason"], "NotAcceptable");
  EXPECT_EQ(html.doc()["message"],
            "only the following media types are accepted: application/json, application/yaml, "
            "application/vnd.kubernetes.protobuf");
  auto table = get(api, "/api/v1/nodes", "application/json;as=Table;v=v1;g=meta.k8s.io");
  EXPECT_EQ(table.status, 406);
  EXPECT_NE(table.doc()["message"].get<std::string>().find("fake"), std::string::npos);
  EXPECT_EQ(get(api, "/api/v1/nodes", "application/vnd.kubernetes.protobuf").status, 406);
}

// RBAC without a resource: 403 with the API server's message.
TEST(K8sFakeApi, ForbiddenResources) {
  FakeKubeApi api(FakeKubeApi::Options{.forbidden = {"endpointslices"}});
  auto r = get(api, "/apis/discovery.k8s.io/v1/endpointslices");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.doc()["message"],
            "endpointslices.discovery.k8s.io is forbidden: User \"system:serviceaccount:netring:netring\" cannot list "
            "resource \"endpointslices\" in API group \"discovery.k8s.io\" at the cluster scope");
  EXPECT_EQ(get(api, "/api/v1/pods").status, 200);
}

}  // namespace
