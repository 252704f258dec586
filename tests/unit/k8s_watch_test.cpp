// The Kubernetes list/watch client against a FAKE API server
// (tests/testing/fake_kube_api.hpp): no real kube-apiserver can run on the
// test machines, so the fake reproduces the API's list, watch, bookmark and
// 410 Gone behaviour over real HTTPS with a CA made at test time.
#include <gtest/gtest.h>

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "agent/k8s/watch.hpp"
#include "tests/testing/fake_kube_api.hpp"
#include "tests/testing/k8s_objects.hpp"

namespace {

using namespace netring::agent;
using namespace netring::agent::k8s;
using netring::testing::FakeKubeApi;
namespace fx = netring::testing::k8s;
using namespace std::chrono_literals;

// Generous: the machine is shared and may be slow; these only bound a hang.
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

WatchOptions fast(ResourceKind kind) {
  WatchOptions o;
  o.kind = kind;
  o.page_size = 100;
  o.backoff_initial = 100ms;
  o.backoff_max = 1s;
  return o;
}

IpAddress ip(const std::string& s) {
  return *IpAddress::parse(s);
}

nlohmann::json web_pod(int i, const std::string& ip_prefix = "10.244.1.") {
  return fx::pod({.ns = "shop",
                  .name = "web-7d4b9c6f5d-" + std::to_string(10000 + i),
                  .owner_kind = "ReplicaSet",
                  .owner_name = "web-7d4b9c6f5d",
                  .template_hash = "7d4b9c6f5d",
                  .ips = {ip_prefix + std::to_string(i % 250)}});
}

// Starts `w` and waits until its initial list is done and its watch is open.
::testing::AssertionResult started_and_watching(Watcher& w) {
  if (auto r = w.start(); !r.ok()) return ::testing::AssertionFailure() << "start: " << r.error().message();
  if (!w.wait_synced(kWait)) return ::testing::AssertionFailure() << "initial list not synced";
  if (!eventually([&] { return w.health().watching; })) return ::testing::AssertionFailure() << "no watch open";
  return ::testing::AssertionSuccess();
}

size_t count_matching(const std::vector<std::string>& reqs, const std::string& needle) {
  size_t n = 0;
  for (const auto& r : reqs) n += r.find(needle) != std::string::npos;
  return n;
}

std::vector<nlohmann::json> many_pods(int n) {
  std::vector<nlohmann::json> pods;
  for (int i = 0; i < n; ++i)
    pods.push_back(fx::pod({.ns = "ns" + std::to_string(i % 7),
                            .name = "p" + std::to_string(i),
                            .ips = {"10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250)}}));
  return pods;
}

void load_cluster(FakeKubeApi& api) {
  api.load("pods", many_pods(1234));
  api.load("services", {fx::service("shop", "web", {"10.96.0.10"}, "1", 30080)});
  api.load("nodes", {fx::node("node-a", "192.168.49.2", "1"), fx::node("node-b", "192.168.49.3", "1")});
}

// The fake serves watch-list (sendInitialEvents) like a 1.32/1.34+ server:
// the initial state comes as a stream of ADDED events closed by the
// initial-events-end bookmark, without any list request.
TEST(K8sWatch, InitialStateIsStreamedThenOneWatchPerKind) {
  FakeKubeApi api;
  load_cluster(api);
  Index index;
  Watcher wp(api.client_config(), fast(ResourceKind::kPod), index);
  Watcher ws(api.client_config(), fast(ResourceKind::kService), index);
  Watcher wn(api.client_config(), fast(ResourceKind::kNode), index);
  ASSERT_TRUE(wp.start().ok());
  ASSERT_TRUE(ws.start().ok());
  ASSERT_TRUE(wn.start().ok());
  ASSERT_TRUE(wp.wait_synced(kWait));
  ASSERT_TRUE(ws.wait_synced(kWait));
  ASSERT_TRUE(wn.wait_synced(kWait));

  auto st = index.stats();
  EXPECT_EQ(st.pods, 1234u);
  EXPECT_EQ(st.services, 1u);
  EXPECT_EQ(st.nodes, 2u);
  EXPECT_EQ(index.lookup(ip("10.1.4.233"))->name, "p1233");
  EXPECT_EQ(index.lookup(ip("192.168.49.3"))->name, "node-b");
  EXPECT_EQ(index.lookup_node_port("TCP", 30080)->name, "web");

  auto h = wp.health();
  EXPECT_TRUE(h.streaming);
  EXPECT_EQ(h.pages, 0u);
  EXPECT_EQ(h.items, 1234u);
  EXPECT_EQ(h.lists, 1u);
  EXPECT_EQ(h.bookmarks, 1u);  // the initial-events-end one
  EXPECT_EQ(h.resource_version, std::to_string(api.revision()));
  EXPECT_GT(h.bytes, 1234u * 1000);  // the objects came through this client
  auto reqs = api.requests();
  EXPECT_EQ(count_matching(reqs,
                           "GET /api/v1/pods?allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&"
                           "sendInitialEvents=true&timeoutSeconds="),
            1u);
  EXPECT_EQ(count_matching(reqs, "limit="), 0u);
  EXPECT_EQ(count_matching(reqs, "resourceVersion=0"), 0u);
  EXPECT_EQ(api.max_open_watches("pods"), 1);
  EXPECT_EQ(api.max_open_watches("services"), 1);
  EXPECT_EQ(api.max_open_watches("nodes"), 1);
  // The stream goes on as the watch: changes arrive on the same connection.
  api.add("pods", web_pod(7));
  ASSERT_TRUE(eventually([&] { return index.lookup(ip("10.244.1.7")) != nullptr; }));
  EXPECT_EQ(wp.health().watches, 1u);
}

// A server with the WatchList feature gate off (1.27-1.31, 1.33) refuses
// the stream with 422; the client lists instead, page by page, without a
// resourceVersion: a consistent list, which every server paginates.
TEST(K8sWatch, WithoutWatchListItListsPageByPageThenWatches) {
  FakeKubeApi api(FakeKubeApi::Options{.watch_list = false});
  load_cluster(api);
  Index index;
  Watcher wp(api.client_config(), fast(ResourceKind::kPod), index);
  ASSERT_TRUE(wp.start().ok());
  ASSERT_TRUE(wp.wait_synced(kWait));
  EXPECT_EQ(index.stats().pods, 1234u);
  auto h = wp.health();
  EXPECT_FALSE(h.streaming);
  EXPECT_EQ(h.pages, 13u);  // 1234 pods, 100 per page
  EXPECT_EQ(h.items, 1234u);
  EXPECT_EQ(h.lists, 1u);
  EXPECT_EQ(h.errors, 0u);  // a refused stream is no failure
  EXPECT_EQ(h.resource_version, std::to_string(api.revision()));
  auto reqs = api.requests();
  ASSERT_GE(reqs.size(), 2u);
  EXPECT_NE(reqs[0].find("sendInitialEvents=true"), std::string::npos) << reqs[0];
  EXPECT_EQ(reqs[1], "GET /api/v1/pods?limit=100");
  EXPECT_EQ(count_matching(reqs, "GET /api/v1/pods?continue="), 12u);
  EXPECT_EQ(count_matching(reqs, "resourceVersion=0"), 0u);
  ASSERT_TRUE(eventually([&] { return api.open_watches("pods") == 1; }));
  reqs = api.requests();
  EXPECT_EQ(count_matching(reqs, "GET /api/v1/pods?allowWatchBookmarks=true&resourceVersion=" + h.resource_version +
                                     "&timeoutSeconds="),
            1u);
}

// Defect 19.2: resourceVersion=0 is served from the API server's watch cache,
// which ignores limit, so a large cluster's whole list arrives as one body;
// a client that asked for pages that way never synced once that body
// passed its cap. The fake answers resourceVersion=0 like the real server
// (K8sFakeApi tests); the client must get its pages regardless.
TEST(K8sWatch, ALargeCollectionSyncsUnderThePageCap) {
  for (bool watch_list : {false, true}) {
    SCOPED_TRACE(watch_list ? "watch-list" : "list");
    FakeKubeApi api(FakeKubeApi::Options{.watch_list = watch_list});
    api.load("pods", many_pods(3000));
    Index index;
    WatchOptions o = fast(ResourceKind::kPod);
    o.max_page_bytes = 1u << 20;  // the whole list is ~10 MB
    Watcher w(api.client_config(), o, index);
    ASSERT_TRUE(w.start().ok());
    ASSERT_TRUE(w.wait_synced(kWait)) << w.health().last_error;
    EXPECT_EQ(index.stats().pods, 3000u);
    auto h = w.health();
    EXPECT_EQ(h.errors, 0u) << h.last_error;
    EXPECT_LE(h.max_page_bytes, o.max_page_bytes);
  }
}

TEST(K8sWatch, EventsUpdateTheIndex) {
  FakeKubeApi api;
  api.load("pods", {web_pod(1)});
  Index index({.pod_grace = 60s});
  Watcher w(api.client_config(), fast(ResourceKind::kPod), index);
  ASSERT_TRUE(started_and_watching(w));

  api.add(
      "pods",
      fx::pod({.ns = "shop", .name = "db-0", .owner_kind = "StatefulSet", .owner_name = "db", .ips = {"10.244.2.5"}}));
  ASSERT_TRUE(eventually([&] { return index.lookup(ip("10.244.2.5")) != nullptr; }));
  EXPECT_EQ(index.lookup(ip("10.244.2.5"))->workload, "db");

  auto moved =
      fx::pod({.ns = "shop", .name = "db-0", .owner_kind = "StatefulSet", .owner_name = "db", .ips = {"10.244.2.6"}});
  api.modify("pods", moved);
  ASSERT_TRUE(eventually([&] { return index.lookup(ip("10.244.2.6")) != nullptr; }));
  EXPECT_FALSE(index.lookup(ip("10.244.2.5")));

  api.remove("pods", "shop", "db-0");
  ASSERT_TRUE(eventually([&] { return index.stats().pods_in_grace == 1; }));
  EXPECT_TRUE(index.lookup(ip("10.244.2.6")));  // still named during the grace period
  EXPECT_EQ(index.stats().pods, 1u);
  auto h = w.health();
  EXPECT_EQ(h.events, 3u);
  EXPECT_EQ(h.resource_version, std::to_string(api.revision()));
  EXPECT_EQ(h.errors, 0u);
}

TEST(K8sWatch, BookmarksAdvanceTheResourceVersionUsedToResume) {
  FakeKubeApi api;
  api.load("pods", {web_pod(1)});
  Index index;
  Watcher w(api.client_config(), fast(ResourceKind::kPod), index);
  ASSERT_TRUE(started_and_watching(w));
  std::string list_rv = w.health().resource_version;

  // Changes to another kind move the global revision but send the pod watch nothing...
  for (int i = 0; i < 5; ++i)
    api.add("services", fx::service("default", "s" + std::to_string(i), {"10.96.1." + std::to_string(i)}, "1"));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(w.health().resource_version, list_rv);
  // ...until a bookmark carries the revision over.
  api.bookmark();
  std::string now = std::to_string(api.revision());
  ASSERT_TRUE(eventually([&] { return w.health().resource_version == now; }));
  EXPECT_EQ(w.health().bookmarks, 2u);  // the one closing the initial state, and this one

  api.clear_requests();
  api.drop_watches();
  ASSERT_TRUE(eventually([&] { return count_matching(api.requests(), "watch=1") >= 1; }));
  EXPECT_EQ(count_matching(api.requests(), "resourceVersion=" + now + "&timeoutSeconds="), 1u);
  EXPECT_EQ(count_matching(api.requests(), "limit="), 0u);  // resumed, not relisted
  EXPECT_EQ(count_matching(api.requests(), "sendInitialEvents"), 0u);
}

TEST(K8sWatch, DroppedConnectionResumesFromTheLastEventWithoutRelisting) {
  FakeKubeApi api;
  api.load("pods", {web_pod(1)});
  Index index;
  Watcher w(api.client_config(), fast(ResourceKind::kPod), index);
  ASSERT_TRUE(started_and_watching(w));
  api.add("pods", web_pod(2));
  std::string rv = std::to_string(api.revision());
  ASSERT_TRUE(eventually([&] { return w.health().resource_version == rv; }));

  api.clear_requests();
  api.drop_watches();
  api.add("pods", web_pod(3));  // happens while the agent is disconnected
  ASSERT_TRUE(eventually([&] { return index.lookup(ip("10.244.1.3")) != nullptr; }));
  auto reqs = api.requests();
  ASSERT_GE(reqs.size(), 1u);
  EXPECT_NE(reqs[0].find("watch=1"), std::string::npos) << reqs[0];
  EXPECT_NE(reqs[0].find("resourceVersion=" + rv + "&"), std::string::npos) << reqs[0];
  EXPECT_EQ(count_matching(reqs, "limit="), 0u);
  EXPECT_EQ(count_matching(reqs, "sendInitialEvents"), 0u);
  auto h = w.health();
  EXPECT_EQ(h.lists, 1u);
  EXPECT_GE(h.errors, 1u);  // the cut stream counts as a failure (then backoff)
  EXPECT_NE(h.last_error.find("watch /api/v1/pods"), std::string::npos) << h.last_error;
}

void gone_resyncs(bool as_http_status, bool watch_list) {
  FakeKubeApi api(FakeKubeApi::Options{.gone_as_http_status = as_http_status, .watch_list = watch_list});
  api.load("pods", {web_pod(1), web_pod(2)});
  Index index({.pod_grace = 0s});
  Watcher w(api.client_config(), fast(ResourceKind::kPod), index);
  ASSERT_TRUE(started_and_watching(w));

  // The agent is cut off while pods change and etcd compacts past its version.
  api.fail_next(1'000'000, 503);
  api.drop_watches();
  ASSERT_TRUE(eventually([&] { return w.health().errors >= 2; }));
  api.remove("pods", "shop", "web-7d4b9c6f5d-10002");
  api.add("pods", web_pod(3));
  api.compact();
  api.clear_requests();
  api.fail_next(0, 0);

  ASSERT_TRUE(eventually([&] { return w.health().lists == 2; }));
  EXPECT_EQ(w.health().gone, 1u);
  EXPECT_TRUE(index.lookup(ip("10.244.1.3")));
  EXPECT_FALSE(index.lookup(ip("10.244.1.2")));  // deleted while the watch was gone: swept by the resync
  EXPECT_TRUE(index.lookup(ip("10.244.1.1")));
  // The resync came from a watch that was told 410, not from a failure.
  const std::string resync = watch_list ? "sendInitialEvents=true" : "GET /api/v1/pods?limit=100";
  auto reqs = api.requests();
  auto list_at =
      std::find_if(reqs.begin(), reqs.end(), [&](const std::string& r) { return r.find(resync) != std::string::npos; });
  ASSERT_NE(list_at, reqs.end());
  ASSERT_NE(list_at, reqs.begin());
  EXPECT_NE((list_at - 1)->find("watch=1"), std::string::npos) << *(list_at - 1);
  EXPECT_EQ((list_at - 1)->find("sendInitialEvents"), std::string::npos) << *(list_at - 1);
  EXPECT_EQ(count_matching(reqs, resync), 1u);
  // Once refused, the stream is not asked for again.
  EXPECT_EQ(count_matching(reqs, "sendInitialEvents"), watch_list ? 1u : 0u);
  // After the resync it watches again, from the new state's version.
  ASSERT_TRUE(eventually([&] { return w.health().watching; }));
  EXPECT_EQ(w.health().resource_version, std::to_string(api.revision()));
}

TEST(K8sWatch, GoneAsWatchErrorEventResyncs) {
  gone_resyncs(false, true);
  gone_resyncs(false, false);
}
TEST(K8sWatch, GoneAsHttpStatusResyncs) {
  gone_resyncs(true, true);
  gone_resyncs(true, false);
}

TEST(K8sWatch, ExpiredContinueTokenRestartsTheList) {
  FakeKubeApi api(FakeKubeApi::Options{.watch_list = false});
  std::vector<nlohmann::json> pods;
  for (int i = 0; i < 250; ++i) pods.push_back(web_pod(i, "10.7.0."));
  api.load("pods", pods);
  api.compact_after_next_page();  // etcd compacts between the first and second page
  Index index;
  Watcher w(api.client_config(), fast(ResourceKind::kPod), index);
  ASSERT_TRUE(w.start().ok());
  ASSERT_TRUE(w.wait_synced(kWait));
  auto h = w.health();
  EXPECT_EQ(h.gone, 1u);
  EXPECT_EQ(h.lists, 1u);
  EXPECT_EQ(h.pages, 1u + 3u);  // the first page, then a whole new list of three
  EXPECT_EQ(index.stats().pods, 250u);
  auto reqs = api.requests();
  EXPECT_EQ(count_matching(reqs, "GET /api/v1/pods?limit=100"), 2u);  // the first page, twice
  EXPECT_EQ(count_matching(reqs, "continue="), 1u + 2u);              // the expired token, then two good ones
  EXPECT_EQ(h.resource_version, std::to_string(api.revision()));
}

TEST(K8sWatch, ServerEndsWatchAfterTimeoutSecondsAndItResumes) {
  FakeKubeApi api;
  api.load("pods", {web_pod(1)});
  Index index;
  WatchOptions o = fast(ResourceKind::kPod);
  o.watch_timeout = 1s;
  Watcher w(api.client_config(), o, index);
  ASSERT_TRUE(w.start().ok());
  ASSERT_TRUE(w.wait_synced(kWait));
  ASSERT_TRUE(eventually([&] { return w.health().watches >= 3; }));
  auto h = w.health();
  EXPECT_EQ(h.lists, 1u);
  EXPECT_EQ(h.errors, 0u);
  for (const auto& r : api.requests()) {
    if (r.find("watch=1") == std::string::npos) continue;
    auto pos = r.find("timeoutSeconds=");
    ASSERT_NE(pos, std::string::npos);
    int t = std::stoi(r.substr(pos + 15));
    EXPECT_GE(t, 1);  // jittered in [T, 2T]
    EXPECT_LE(t, 2);
  }
}

TEST(K8sWatch, ASilentConnectionHitsTheReadTimeoutAndReconnects) {
  FakeKubeApi api;
  api.load("pods", {web_pod(1)});
  Index index;
  WatchOptions o = fast(ResourceKind::kPod);
  o.watch_timeout = 1s;
  o.read_timeout_margin = 1s;
  Watcher w(api.client_config(), o, index);
  ASSERT_TRUE(w.start().ok());
  ASSERT_TRUE(w.wait_synced(kWait));
  // A half-dead connection: the server neither ends the watch at timeoutSeconds nor sends anything.
  api.stall_watches(true);
  ASSERT_TRUE(eventually([&] { return w.health().errors >= 1; }));
  EXPECT_NE(w.health().last_error.find("Read"), std::string::npos) << w.health().last_error;
  api.stall_watches(false);
  api.add("pods", web_pod(2));
  ASSERT_TRUE(eventually([&] { return index.lookup(ip("10.244.1.2")) != nullptr; }));
  EXPECT_EQ(w.health().lists, 1u);
}

TEST(K8sWatch, SlowAnswersAreWaitedForNotCountedAsErrors) {
  FakeKubeApi api;
  api.load("pods", {web_pod(1)});
  api.delay_responses(300ms);
  Index index;
  Watcher w(api.client_config(), fast(ResourceKind::kPod), index);
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(w.start().ok());
  ASSERT_TRUE(w.wait_synced(kWait));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);  // the answer did wait
  api.delay_responses(0ms);
  api.add("pods", web_pod(2));
  ASSERT_TRUE(eventually([&] { return index.lookup(ip("10.244.1.2")) != nullptr; }));
  auto h = w.health();
  EXPECT_EQ(h.errors, 0u) << h.last_error;
  EXPECT_EQ(h.lists, 1u);
}

TEST(K8sWatch, FailuresBackOffExponentiallyWithJitter) {
  FakeKubeApi api;
  api.load("pods", {web_pod(1)});
  api.fail_next(4, 500);
  Index index;
  Watcher w(api.client_config(), fast(ResourceKind::kPod), index);
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(w.start().ok());
  ASSERT_TRUE(w.wait_synced(kWait));
  auto elapsed = std::chrono::steady_clock::now() - t0;
  // Waits of at least half of 100, 200, 400 and 800 ms (equal jitter): 750 ms.
  EXPECT_GE(elapsed, 750ms);
  auto h = w.health();
  EXPECT_EQ(h.errors, 4u);
  EXPECT_NE(h.last_error.find("HTTP 500 injected failure"), std::string::npos) << h.last_error;
  EXPECT_EQ(count_matching(api.requests(), "sendInitialEvents=true"), 5u);  // a 500 is no refusal: still streamed
}

TEST(K8sWatch, UnauthorizedIsReportedAndRetried) {
  FakeKubeApi api;
  auto cfg = api.client_config();
  cfg.token = "wrong";
  Index index;
  Watcher w(cfg, fast(ResourceKind::kPod), index);
  ASSERT_TRUE(w.start().ok());
  ASSERT_TRUE(eventually([&] { return w.health().errors >= 2; }));
  EXPECT_FALSE(w.health().synced);
  EXPECT_NE(w.health().last_error.find("HTTP 401 Unauthorized"), std::string::npos) << w.health().last_error;
  w.stop();
}

TEST(K8sWatch, StopEndsAnOpenWatchPromptly) {
  FakeKubeApi api;
  Index index;
  WatchOptions o = fast(ResourceKind::kPod);
  o.watch_timeout = 3600s;
  Watcher w(api.client_config(), o, index);
  ASSERT_TRUE(w.start().ok());
  ASSERT_TRUE(eventually([&] { return w.health().watching; }));
  auto t0 = std::chrono::steady_clock::now();
  w.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 30s);  // not the hour-long watch nor its read timeout
}

std::vector<nlohmann::json> app_pods(int n) {
  std::vector<nlohmann::json> pods;
  pods.reserve(n);
  for (int i = 0; i < n; ++i) {
    pods.push_back(fx::pod({.ns = "ns" + std::to_string(i % 50),
                            .name = "app-5d8f7c6b4-" + std::to_string(i),
                            .owner_kind = "ReplicaSet",
                            .owner_name = "app-5d8f7c6b4",
                            .template_hash = "5d8f7c6b4",
                            .ips = {"10." + std::to_string(i / 62500) + "." + std::to_string(i / 250 % 250) + "." +
                                    std::to_string(i % 250)}}));
  }
  return pods;
}

void memory_stays_bounded(bool watch_list, const std::vector<nlohmann::json>& pods) {
  FakeKubeApi api(FakeKubeApi::Options{.watch_list = watch_list});
  const size_t n = pods.size();
  size_t total_json = 0;
  for (const auto& p : pods) total_json += p.dump().size();
  api.load("pods", pods);
  malloc_trim(0);
  size_t before = mallinfo2().uordblks;
  auto index = std::make_unique<Index>();
  WatchOptions o = fast(ResourceKind::kPod);
  o.page_size = 500;
  auto w = std::make_unique<Watcher>(api.client_config(), o, *index);
  ASSERT_TRUE(w->start().ok());
  ASSERT_TRUE(w->wait_synced(kWait * 2));
  auto h = w->health();
  w->stop();
  size_t after = mallinfo2().uordblks;
  size_t retained = after > before ? after - before : 0;

  EXPECT_EQ(index->stats().pods, n);
  // One page is buffered at a time, never the whole list (a stream buffers none)...
  EXPECT_EQ(h.pages, watch_list ? 0u : n / 500);
  EXPECT_LT(h.max_page_bytes, total_json / 20) << "largest page " << h.max_page_bytes << " of " << total_json;
  // ...and what stays is the index, a small fraction of the list's JSON
  // (mallinfo2 cannot see AddressSanitizer's allocator: only without it).
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(retained, total_json / 2) << "retained " << retained << " bytes for " << total_json << " bytes of pods";
  EXPECT_LT(retained / n, 1536u) << "bytes per pod";
#endif
  std::printf("%zu pods (%s): JSON %zu bytes, largest page %zu, heap retained %zu (%zu per pod)\n", n,
              watch_list ? "watch-list" : "list", total_json, h.max_page_bytes, retained, retained / n);
}

// 10k pods (44 MB of JSON as the API sends it, managedFields included),
// listed page by page, then streamed.
TEST(K8sWatch, MemoryStaysBoundedWith10kPods) {
  auto pods = app_pods(10'000);
  memory_stays_bounded(false, pods);
  memory_stays_bounded(true, pods);
}

}  // namespace
