// Keeps one resource kind of the Index in sync with the API server, the way
// client-go's reflector does, with one connection per kind:
//   stream  GET <collection>?watch=1&sendInitialEvents=true
//          &resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true
//          (a "watch-list", KEP-3157): the server streams the current objects
//          as ADDED events out of its watch cache, then a BOOKMARK annotated
//          k8s.io/initial-events-end whose resourceVersion is where the
//          state was taken, and the same connection goes on as a watch.
//          No list body is ever built or buffered, on either side.
//   list   the fallback when the server refuses the stream with 422 (or
//          400): its WatchList feature gate is off, as before 1.32 and in
//          1.33, or it is an aggregated API: GET <collection>?limit=N, then
//          ?limit=N&continue=T page by page. resourceVersion stays unset: a
//          consistent list, which every API server paginates. With
//          resourceVersion=0 the server answers from its watch cache and
//          ignores limit, so a large cluster's whole list would arrive as one
//          body; only a collection that is small whatever the cluster's
//          size (this node's pods, by field selector) is listed that way, so
//          the watch cache and its spec.nodeName index serve it, not etcd.
//   watch  GET ...?watch=1&resourceVersion=RV&allowWatchBookmarks=true&timeoutSeconds=T
//          with the HTTP read timeout above T; every event and BOOKMARK
//          advances RV. When the server ends the watch, it resumes from RV.
//   410    ("Gone" as the HTTP status, or as an ERROR event carrying a Status
//          with code 410): RV is too old, so resync (stream or list).
//   errors (connection refused or dropped, 5xx, 429, bad JSON): resume from RV
//          after an exponential backoff with jitter; a resync is never the
//          answer to a mere disconnect, so reconnect storms stay cheap.
// Field and label selectors narrow every request (list, stream and watch);
// an object that stops matching arrives as DELETED, one that starts as ADDED.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "agent/k8s/client.hpp"
#include "agent/k8s/index.hpp"

namespace netring::agent::k8s {

// Where a kind's collection lives: /api/v1/pods, /apis/discovery.k8s.io/v1/endpointslices, ...
std::string collection_path(ResourceKind kind);
// Percent-encodes a query parameter value.
std::string url_escape(const std::string& s);

struct WatchOptions {
  ResourceKind kind = ResourceKind::kPod;
  std::string field_selector;  // e.g. "spec.nodeName=node-a"
  std::string label_selector;  // e.g. "endpointslice.kubernetes.io/managed-by!=endpointslice-controller.k8s.io"
  // The selected collection is small whatever the cluster's size: its
  // fallback list is one resourceVersion=0 request (see above).
  bool small_collection = false;
  bool required = true;  // Metadata::synced() waits for it
  size_t page_size = 500;
  // timeoutSeconds of each watch is drawn from [watch_timeout, 2*watch_timeout) so
  // the agents of a cluster do not all reconnect at once.
  std::chrono::seconds watch_timeout{300};
  std::chrono::seconds read_timeout_margin{30};
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{30'000};
  size_t max_page_bytes = 128u << 20;  // a list page above this is refused (lower --page-size)
  size_t max_event_bytes = 16u << 20;  // one watch event line
};

struct WatchHealth {
  bool synced = false;    // a list or stream completed; the index reflects the API
  bool watching = false;  // a watch stream is open
  bool streaming = true;  // initial state by watch-list stream (false: the server refused it, list+watch)
  uint64_t lists = 0;     // completed lists or initial streams
  uint64_t pages = 0;     // list pages received
  uint64_t items = 0;     // objects of lists and initial streams
  uint64_t watches = 0;   // watch requests that got a 200
  uint64_t events = 0;    // ADDED/MODIFIED/DELETED applied after the initial state
  uint64_t bookmarks = 0;
  uint64_t gone = 0;          // 410s (either form) that forced a resync
  uint64_t errors = 0;        // failed requests (then backoff)
  uint64_t bytes = 0;         // response bytes received (Client::bytes_received)
  uint64_t requests = 0;      // HTTP requests made
  size_t max_page_bytes = 0;  // largest list page buffered
  std::string resource_version;
  std::string last_error;
  // Wall-clock time (ns since the epoch) of the last thing the server sent
  // that the index took: an object, an event, a bookmark. While the watch is
  // down it ages, and says how stale the names it serves may be.
  uint64_t last_event_ns = 0;
};

class Watcher {
 public:
  Watcher(ClientConfig client, WatchOptions opts, Index& index);
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  Result<void> start();
  void stop();

  const WatchOptions& options() const { return opts_; }
  WatchHealth health() const;
  // Waits until the first list completed; false on timeout.
  bool wait_synced(std::chrono::milliseconds timeout) const;
  // CPU time the watcher's thread has used (zero before start()).
  std::chrono::nanoseconds cpu_time() const;

 private:
  enum class Outcome { kOk, kGone, kError, kStopped, kRefused };
  void run();
  Outcome list();
  // initial: the watch-list stream (sendInitialEvents) that also syncs.
  Outcome watch(bool initial);
  void fail(const std::string& what);
  void sleep_backoff();
  void mark_synced(const std::string& rv);
  bool stopping() const { return stop_.load(std::memory_order_acquire); }
  std::string selectors() const;

  ClientConfig client_cfg_;
  WatchOptions opts_;
  Index& index_;
  std::unique_ptr<Client> client_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
  std::mt19937_64 rng_;
  int failures_ = 0;
  bool stream_ok_ = true;          // the server takes watch-list requests (until it refuses one)
  bool rv_synced_stream_ = false;  // the last watch-list stream delivered its initial-events-end bookmark
  uint64_t watch_items_ = 0;       // events and bookmarks received by the current watch
  std::string rv_;                 // owned by the watcher thread; mirrored into health_

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  WatchHealth health_;
};

}  // namespace netring::agent::k8s
