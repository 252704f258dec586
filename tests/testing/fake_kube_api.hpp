// A FAKE Kubernetes API server for tests: no real kube-apiserver can run on
// the test machines (see ENVIRONMENT.md), so this one reproduces, over real
// HTTPS with a test CA, the parts of the API's behaviour the agent relies on,
// as kube-apiserver (1.31-1.35) behaves with its watch cache on:
//   - Collections GET /api/v1/{pods,services,nodes} and
//     /apis/discovery.k8s.io/v1/endpointslices: a List (kind PodList etc.,
//     items without kind/apiVersion, metadata.resourceVersion).
//   - List resourceVersion semantics: "0" is answered whole from the watch
//     cache, limit ignored and no continue token, however large the list
//     (the behaviour that makes resourceVersion=0&limit=N unsafe for large
//     collections); unset ("consistent") and exact versions honour limit
//     with an opaque base64 continue token plus remainingItemCount, and a
//     continue token older than the last compaction answers 410 Expired.
//     resourceVersionMatch (Exact, NotOlderThan) and every ListOptions
//     validation rule answer 422 Invalid with the API's Status, causes
//     included.
//   - fieldSelector (only the fields each resource declares selectable,
//     "field label not supported" otherwise, 400) and labelSelector
//     (equality and set-based), on lists, watches and initial events. A
//     pods selector naming spec.nodeName=X is served from a per-node index,
//     as the watch cache does (objects_examined() counts the work).
//   - ?watch=1&resourceVersion=RV: a chunked stream of one JSON event per
//     line ({"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}),
//     replaying every change after RV; with a selector, an object that
//     starts matching arrives as ADDED and one that stops matching as
//     DELETED (its last matching state at the new resourceVersion).
//     resourceVersion unset or "0" starts with synthetic ADDED events of
//     the current state. timeoutSeconds ends the stream cleanly; BOOKMARK
//     only when allowWatchBookmarks=true; an RV older than the history
//     answers with an ERROR event holding a 410 Status (what current API
//     servers do), or with HTTP 410 when configured so.
//   - Watch-list (sendInitialEvents=true&resourceVersionMatch=NotOlderThan):
//     ADDED events of the current state, then a BOOKMARK annotated
//     k8s.io/initial-events-end (with allowWatchBookmarks=true), then the
//     watch. With the WatchList feature gate off (Options::watch_list) it is
//     refused with 422, as 1.27-1.31 and 1.33 servers refuse it.
//   - Accept: application/json (also ;stream=watch, application/*, */*).
//     Media types the real server also serves but this fake does not
//     implement (YAML, protobuf, as=Table / as=PartialObjectMetadata
//     conversions) are answered 406 naming the fake's limit; anything else
//     406 with the API server's own message.
//   - bearer-token or client-certificate authentication; 401 Status otherwise.
// Every object change takes the next resourceVersion, as etcd's revision.
// Known differences: one snapshot of state (a paginated list's later pages
// come from the current state, not from the first page's revision; a
// watch's events between that revision and now replay the difference), no
// namespaced paths, no single-object GET.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/k8s/client.hpp"
#include "tests/testing/kube_selector.hpp"
#include "tests/testing/test_pki.hpp"

namespace httplib {
class SSLServer;
}

namespace netring::testing {

class FakeKubeApi {
 public:
  struct Options {
    bool gone_as_http_status = false;  // 410 for an old watch RV as the HTTP status instead of an ERROR event
    std::string token = "test-token";
    bool require_client_cert = false;  // accept a client certificate signed by the CA instead of a token
    bool cert_for_loopback = true;     // false: the server certificate does not name 127.0.0.1/localhost
    // The WatchList feature gate: on by default in 1.32 and from 1.34, off
    // in 1.27-1.31 and in 1.33 (older servers refuse resourceVersionMatch
    // on a watch with the same 422).
    bool watch_list = true;
    // Events kept for watches to resume from; older resourceVersions get
    // 410. 0: all of them until compact().
    size_t max_history = 0;
    size_t threads = 64;  // connections served at once (an open watch holds one)
    bool log_requests = true;
    // Resources the client's RBAC does not allow: 403 Forbidden, as for a
    // ClusterRole without them.
    std::set<std::string> forbidden{};
  };
  explicit FakeKubeApi(Options opts);
  FakeKubeApi() : FakeKubeApi(Options{}) {}
  ~FakeKubeApi();
  FakeKubeApi(const FakeKubeApi&) = delete;
  FakeKubeApi& operator=(const FakeKubeApi&) = delete;

  int port() const { return port_; }
  const TestCa& ca() const { return ca_; }
  // How a client reaches this server: https://127.0.0.1:<port>, the CA, the token.
  agent::k8s::ClientConfig client_config() const;

  // Object changes; `resource` is "pods", "services", "nodes" or
  // "endpointslices". Each sets metadata.resourceVersion to the next
  // revision and becomes a watch event.
  void add(const std::string& resource, nlohmann::json obj);
  void modify(const std::string& resource, nlohmann::json obj);
  void remove(const std::string& resource, const std::string& ns, const std::string& name);
  // Many objects at once (one revision each), without keeping watch events for them.
  void load(const std::string& resource, const std::vector<nlohmann::json>& objs);
  // The object as stored (with its resourceVersion), or null.
  nlohmann::json get(const std::string& resource, const std::string& ns, const std::string& name) const;

  // A BOOKMARK with the current revision to every open watch that allows bookmarks.
  void bookmark();
  // Forgets the event history: watches and continue tokens from before now get 410.
  void compact();
  // Compacts right after serving the next list page, so that list's continue token expires.
  void compact_after_next_page();
  // Cuts every open watch connection mid-stream, without a terminating chunk.
  void drop_watches();
  // Watches opened from now on ignore timeoutSeconds and send nothing (a half-dead connection).
  void stall_watches(bool on);
  // The next `n` requests get HTTP `status` with a Status body.
  void fail_next(int n, int status);
  // Every request from now on waits `d` before it is answered (an API server
  // under load); zero ends it.
  void delay_responses(std::chrono::milliseconds d);

  uint64_t revision() const;
  std::vector<std::string> requests() const;  // "GET /api/v1/pods?limit=500", in order
  void clear_requests();
  int open_watches(const std::string& resource) const;
  int max_open_watches(const std::string& resource) const;
  // Accounting for the scale harness.
  uint64_t bytes_sent() const { return bytes_sent_.load(); }  // response bodies
  uint64_t events_sent() const { return events_sent_.load(); }
  // Objects the server looked at to answer lists and initial events: all of
  // the resource's, or one node's pods when an index served the selector.
  uint64_t objects_examined() const { return examined_.load(); }

  struct Stored {
    std::string json;  // as the API returns it in a list (no kind/apiVersion)
    std::string rv;
    Attrs fields;  // the resource's selectable fields
    Attrs labels;
  };
  using StoredPtr = std::shared_ptr<const Stored>;

 private:
  struct Event {
    uint64_t rv;
    std::string resource;
    std::string type;
    StoredPtr cur;   // the object after the change (for DELETED its last state at the deletion's version)
    StoredPtr prev;  // before it (MODIFIED, DELETED)
  };
  struct Query;
  struct WatchState;
  void record_change(const std::string& resource, const std::string& type, nlohmann::json obj);
  StoredPtr make_stored(const std::string& resource, nlohmann::json obj) const;
  void put_locked(const std::string& resource, const std::string& key, StoredPtr s);
  void erase_locked(const std::string& resource, const std::string& key);
  std::vector<StoredPtr> select_locked(const Query& q, const std::string& start, size_t limit, std::string* next_key,
                                       size_t* remaining);
  void trim_history_locked();
  void serve();
  static std::string key_of(const nlohmann::json& obj);

  Options opts_;
  TestCa ca_;
  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  int port_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t revision_ = 1000;
  uint64_t compacted_ = 0;  // events with rv <= compacted_ are forgotten
  uint64_t bookmark_gen_ = 0;
  uint64_t drop_gen_ = 0;
  bool stopping_ = false;
  std::map<std::string, std::map<std::string, StoredPtr>> objects_;  // resource -> ns/name -> object
  std::map<std::string, std::set<std::string>> pods_by_node_;        // spec.nodeName -> pod keys
  std::deque<Event> events_;                                         // ascending rv
  std::vector<std::string> requests_;
  std::map<std::string, int> open_watches_, max_open_watches_;
  bool compact_after_page_ = false;
  bool stall_ = false;
  int fail_count_ = 0;
  int fail_status_ = 0;
  std::atomic<int64_t> delay_ms_{0};
  std::atomic<uint64_t> bytes_sent_{0};
  std::atomic<uint64_t> events_sent_{0};
  std::atomic<uint64_t> examined_{0};
};

}  // namespace netring::testing
