// All of the agent's Prometheus metrics in one place: the flow counters
// (prometheus-cpp Families fed with increments), the snapshot-derived
// metrics, and the build info; expose() renders the text format.
#pragma once

#include <prometheus/registry.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "agent/metrics/control_metrics.hpp"
#include "agent/metrics/flow_delta_tracker.hpp"
#include "agent/metrics/flow_metrics.hpp"
#include "agent/metrics/kernel_event_metrics.hpp"
#include "agent/metrics/snapshot_collector.hpp"
#include "agent/model.hpp"

namespace netring::agent::metrics {

class AgentMetrics {
 public:
  AgentMetrics(const SnapshotProvider& provider, FlowMetricsOptions opts);
  AgentMetrics(const AgentMetrics&) = delete;
  AgentMetrics& operator=(const AgentMetrics&) = delete;

  // Feeds a publication of the flow tables into the flow counters (see
  // FlowDeltaTracker::update) and removes the series of pods whose grace
  // period ended, and of `pods_gone` ("ns/pod": pods the Kubernetes index
  // stopped resolving, which already had their grace period there). The
  // caller must take `pods_gone` before resolving the identities in `live`
  // and `evicted`, so none of them still names a gone pod. Called by the
  // thread that publishes snapshots. With `growth`, every flow's growth
  // this round is appended there too (FlowDeltaTracker::update).
  void update_flows(std::span<const FlowView> live, std::span<const FlowView> evicted = {},
                    std::span<const std::string> pods_gone = {}, std::vector<FlowGrowth>* growth = nullptr);

  FlowMetrics& flows() { return flows_; }
  ControlMetrics& control() { return control_; }
  // Drops and retransmits, fed by the publisher before it publishes the
  // snapshot of the same round (a new snapshot renders the exposition anew).
  KernelEventMetrics& kernel_events() { return kernel_events_; }
  prometheus::Registry& registry() { return *registry_; }

  // The whole exposition (text format 0.0.4), shared. Rendering 10k series
  // costs tens of ms of CPU (prometheus-cpp's TextSerializer writes label
  // values one char at a time through std::ostream), so the last rendering
  // is kept and handed out again while neither the flow counters
  // (FlowMetrics::generation) nor the published snapshot changed and it is
  // younger than kExpositionMaxAge: two Prometheus replicas scraping within
  // one publication period render once. Concurrent callers render once too
  // (the second waits for the first). Counters changed through registry()
  // directly are not tracked and show up within kExpositionMaxAge.
  std::shared_ptr<const std::string> exposition() const;
  // A copy of exposition().
  std::string expose() const { return *exposition(); }
  // Collects and serializes now, without the cache; `size_hint` reserves
  // the output buffer (the size of the previous rendering).
  std::string render(std::size_t size_hint = 0) const;

  static constexpr std::chrono::milliseconds kExpositionMaxAge{1000};

 private:
  struct Rendered {
    std::shared_ptr<const std::string> body;
    std::uint64_t flow_generation = 0;
    // Held, not only compared: a freed snapshot's address may come back.
    std::shared_ptr<const AgentSnapshot> snapshot;
    std::chrono::steady_clock::time_point at;
  };

  std::shared_ptr<prometheus::Registry> registry_;
  FlowMetrics flows_;
  ControlMetrics control_;
  KernelEventMetrics kernel_events_;
  std::mutex tracker_mu_;
  FlowDeltaTracker tracker_;
  SnapshotCollector collector_;
  const SnapshotProvider& provider_;
  mutable std::mutex render_mu_;
  mutable Rendered rendered_;
};

}  // namespace netring::agent::metrics
