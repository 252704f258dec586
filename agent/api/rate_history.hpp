// How much each (source, destination) pair of endpoints grew over the recent
// publications: what /api/v1/top?window= and the page's service map rank by
// (bytes/s over the last minute, not since the flows began).
//
// The flow tables hold running totals per flow, and a flow's totals vanish
// from them when it is evicted, so summing totals by group and subtracting
// two such sums would lose every connection that ended in between. This
// books each publication's growth per flow (FlowGrowth: worked out once by
// the metrics' FlowDeltaTracker, which remembers what it last saw of every
// flow, evicted flows' last growth included) into one bucket per
// publication, summed by endpoint pair.
//
// Memory: buckets of growth, each as long as the number of endpoint pairs
// that grew in it, and the pairs' names; nothing per flow. Buckets coarsen
// with age (one per publication for the last 10 s, 5 s wide up to a minute,
// 30 s wide beyond), so a window ends at most one bucket's width before its
// start (covered_seconds says by how much) and the history holds about 30
// buckets, not one per second of the 5 minutes.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/api/top_talkers.hpp"
#include "agent/model.hpp"

namespace netring::agent::api {

struct WindowedTop {
  std::vector<TopEntry> entries;  // bytes and packets: growth within the window; flows: 0
  std::size_t groups = 0;         // before the limit
  // The time the growth was measured over: the window, or less right after
  // start, or somewhat more when publication periods straddle its start.
  double covered_seconds = 0;
};

class RateHistory {
 public:
  static constexpr std::chrono::minutes kDefaultMaxWindow{5};

  explicit RateHistory(std::chrono::milliseconds max_window = kDefaultMaxWindow) : max_window_(max_window) {}
  RateHistory(const RateHistory&) = delete;
  RateHistory& operator=(const RateHistory&) = delete;

  // One publication's growth, taken at `taken_ns`, in order and every one
  // (a skipped publication's growth would be lost). The first only marks
  // the start (its growth is every flow's total so far); a publication not
  // newer than the previous one (the wall clock stepped back) starts the
  // history over.
  void add(std::uint64_t taken_ns, std::span<const FlowGrowth> growth);

  // Growth within `window` before the latest publication, grouped by `key`.
  WindowedTop top(TopKey key, TopBy by, std::size_t limit, std::chrono::milliseconds window) const;

  std::chrono::milliseconds max_window() const { return max_window_; }
  std::size_t endpoints() const;
  std::size_t buckets() const;
  // What the history holds, in bytes (arrays and names; not allocator overhead).
  std::size_t memory_bytes() const;

 private:
  struct Growth {
    std::uint32_t src = 0, dst = 0;  // endpoints_ indices
    double bytes = 0, packets = 0;
  };
  struct Bucket {
    std::uint64_t start_ns = 0, end_ns = 0;  // the previous publication's time, this one's
    std::vector<Growth> growth;
  };
  struct Endpoint {
    metrics::EndpointLabels labels;
    std::string key;
    std::uint64_t last_used_ns = 0;
    bool used = false;
  };

  std::uint32_t intern(const Identity& id, std::uint64_t now_ns);
  void coarsen();
  void forget_unused_endpoints();
  void reset_locked();

  const std::chrono::milliseconds max_window_;
  // add() only (one thread).
  std::unordered_map<const Identity*, std::uint32_t> identity_cache_;
  std::size_t adds_ = 0;

  mutable std::mutex mu_;  // the rest
  bool started_ = false;
  std::uint64_t latest_ns_ = 0;
  std::deque<Bucket> buckets_;
  std::vector<Endpoint> endpoints_;
  std::vector<std::uint32_t> free_endpoints_;
  std::unordered_map<std::string, std::uint32_t> endpoint_index_;
};

}  // namespace netring::agent::api
