// A FAKE Kubernetes API server for tests: no real kube-apiserver can run on
// the test machines (see ENVIRONMENT.md), so this one reproduces, over real
// HTTPS with a test CA, the parts of the API's behaviour the agent relies on:
//   - GET /api/v1/{pods,services,nodes}: a List (kind PodList etc., items
//     without kind/apiVersion, metadata.resourceVersion), paginated with
//     limit and an opaque base64 continue token plus remainingItemCount; a
//     continue token older than the last compaction answers 410 Expired.
//   - ?watch=1&resourceVersion=RV: a chunked stream of one JSON event per
//     line ({"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}),
//     replaying every change after RV; timeoutSeconds ends the stream
//     cleanly; BOOKMARK only when allowWatchBookmarks=true; an RV older than
//     the last compaction answers with an ERROR event holding a 410 Status
//     (what current API servers do), or with HTTP 410 when configured so.
//   - bearer-token or client-certificate authentication; 401 Status otherwise.
// Every object change takes the next resourceVersion, as etcd's revision.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/k8s/client.hpp"
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

  // Object changes; `resource` is "pods", "services" or "nodes". Each sets
  // metadata.resourceVersion to the next revision and becomes a watch event.
  void add(const std::string& resource, nlohmann::json obj);
  void modify(const std::string& resource, nlohmann::json obj);
  void remove(const std::string& resource, const std::string& ns, const std::string& name);
  // Many objects at once (one revision each), without keeping watch events for them.
  void load(const std::string& resource, const std::vector<nlohmann::json>& objs);

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

  uint64_t revision() const;
  std::vector<std::string> requests() const;  // "GET /api/v1/pods?limit=500&resourceVersion=0", in order
  void clear_requests();
  int open_watches(const std::string& resource) const;
  int max_open_watches(const std::string& resource) const;

 private:
  struct Event {
    uint64_t rv;
    std::string resource;
    std::string type;
    std::string object;  // serialized
  };
  struct Stored {
    std::string json;  // serialized object as the API returns it in a list (no kind/apiVersion)
  };
  void record_change(const std::string& resource, const std::string& type, nlohmann::json obj);
  static std::string key_of(const nlohmann::json& obj);
  void serve();

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
  std::map<std::string, std::map<std::string, Stored>> objects_;  // resource -> ns/name -> object
  std::deque<Event> events_;
  std::vector<std::string> requests_;
  std::map<std::string, int> open_watches_, max_open_watches_;
  bool compact_after_page_ = false;
  bool stall_ = false;
  int fail_count_ = 0;
  int fail_status_ = 0;
};

}  // namespace netring::testing
