// Keeps one resource kind of the Index in sync with the API server, the way
// client-go's reflector does, with one connection per kind:
//   list   GET /api/v1/<kind>?limit=N&resourceVersion=0, then ?limit=N&continue=T
//          page by page (one page buffered at a time, items streamed into the
//          index); the list's resourceVersion is where the watch starts.
//   watch  GET ...?watch=1&resourceVersion=RV&allowWatchBookmarks=true&timeoutSeconds=T
//          with the HTTP read timeout above T; every event and BOOKMARK
//          advances RV. When the server ends the watch, it resumes from RV.
//   410    ("Gone" as the HTTP status, or as an ERROR event carrying a Status
//          with code 410): RV is too old, so relist.
//   errors (connection refused or dropped, 5xx, 429, bad JSON): resume from RV
//          after an exponential backoff with jitter; a relist is never the
//          answer to a mere disconnect, so reconnect storms stay cheap.
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

struct WatchOptions {
  ResourceKind kind = ResourceKind::kPod;
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
  bool synced = false;    // a list completed; the index reflects the API
  bool watching = false;  // a watch stream is open
  uint64_t lists = 0;     // completed lists
  uint64_t pages = 0;     // list pages received
  uint64_t watches = 0;   // watch requests that got a 200
  uint64_t events = 0;    // ADDED/MODIFIED/DELETED applied
  uint64_t bookmarks = 0;
  uint64_t gone = 0;          // 410s (either form) that forced a relist
  uint64_t errors = 0;        // failed requests (then backoff)
  size_t max_page_bytes = 0;  // largest list page buffered
  std::string resource_version;
  std::string last_error;
};

class Watcher {
 public:
  Watcher(ClientConfig client, WatchOptions opts, Index& index);
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  Result<void> start();
  void stop();

  WatchHealth health() const;
  // Waits until the first list completed; false on timeout.
  bool wait_synced(std::chrono::milliseconds timeout) const;

 private:
  enum class Outcome { kOk, kGone, kError, kStopped };
  void run();
  Outcome list();
  Outcome watch();
  void fail(const std::string& what);
  void sleep_backoff();
  bool stopping() const { return stop_.load(std::memory_order_acquire); }
  std::string base_path() const;

  ClientConfig client_cfg_;
  WatchOptions opts_;
  Index& index_;
  std::unique_ptr<Client> client_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
  std::mt19937_64 rng_;
  int failures_ = 0;
  uint64_t watch_items_ = 0;  // events and bookmarks received by the current watch
  std::string rv_;  // owned by the watcher thread; mirrored into health_

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  WatchHealth health_;
};

}  // namespace netring::agent::k8s
