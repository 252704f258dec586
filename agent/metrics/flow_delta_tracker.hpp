// Turns the flow tables' running totals into increments for FlowMetrics.
//
// A flow's totals grow while it lives in its table and vanish when it is
// evicted. The tracker remembers what it already reported per flow (id +
// first_seen, so a reused key is a new flow) and reports only the growth;
// forgetting an evicted flow never takes anything back from the counters.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>

#include "agent/metrics/flow_metrics.hpp"
#include "agent/model.hpp"

namespace netring::agent::metrics {

class FlowDeltaTracker {
 public:
  explicit FlowDeltaTracker(FlowMetrics& sink) : sink_(sink) {}

  // One publication of the flow tables: `evicted` holds the final totals of
  // the flows evicted since the previous call (their last growth is reported,
  // then they are forgotten), `live` the flows still in the tables (their
  // growth is reported). Flows in neither are forgotten. Evictions go first
  // so a flow evicted and re-created under the same id within one period is
  // two flows, as it should be.
  void update(std::span<const FlowView> live, std::span<const FlowView> evicted = {});

  std::size_t tracked() const { return seen_.size(); }

 private:
  struct Reported {
    double packets = 0, bytes = 0;
    std::uint8_t tcp_flags = 0;
    std::uint64_t epoch = 0;
  };
  struct Key {
    std::uint64_t id, first_seen;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const { return k.id * 0x9E3779B97F4A7C15ull ^ k.first_seen; }
  };
  void report(const FlowView& f, Reported& r);

  FlowMetrics& sink_;
  std::unordered_map<Key, Reported, KeyHash> seen_;
  std::uint64_t epoch_ = 0;
};

}  // namespace netring::agent::metrics
