// Turns the flow tables' running totals into increments for FlowMetrics.
//
// A flow's totals grow while it lives in its table and vanish when it is
// evicted. The tracker remembers what it already reported per flow (id +
// first_seen, so a reused key is a new flow) and reports only the growth;
// forgetting an evicted flow never takes anything back from the counters.
// The same growth is handed out (FlowGrowth) for the API's rate history, so
// the agent keeps one per-flow record of what it last saw, not one per
// consumer (each is 30-40 bytes a flow: 3-4 MiB at 100k flows).
//
// What was reported is kept in one array sorted by flow, rebuilt at each
// update (40 bytes a flow; a hash map node per flow cost twice that, and its
// nodes, freed and reallocated as flows come and go, fragmented the heap)
// into a second array that the next update reuses.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

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
  // two flows, as it should be. With `growth`, every flow that grew in
  // packets or bytes is also appended there (pointing into `live` and
  // `evicted`).
  void update(std::span<const FlowView> live, std::span<const FlowView> evicted = {},
              std::vector<FlowGrowth>* growth = nullptr);

  std::size_t tracked() const { return seen_.size(); }

 private:
  struct Reported {
    std::uint64_t id = 0, first_seen = 0;  // the flow (sort key)
    double packets = 0, bytes = 0;
    std::uint8_t tcp_flags = 0;
    bool gone = false;  // evicted in this update
  };
  static bool before(const Reported& a, const Reported& b) {
    return a.id != b.id ? a.id < b.id : a.first_seen < b.first_seen;
  }
  Reported* find(const FlowView& f);
  void report(const FlowView& f, Reported& r, std::vector<FlowGrowth>* growth);

  struct Order {
    std::uint64_t id = 0, first_seen = 0;
    std::size_t index = 0;  // in `live`
  };

  FlowMetrics& sink_;
  std::vector<Reported> seen_;  // sorted by (id, first_seen)
  // Kept between updates so that a round allocates (and maps) nothing.
  std::vector<Reported> next_;
  std::vector<Order> order_;
};

}  // namespace netring::agent::metrics
