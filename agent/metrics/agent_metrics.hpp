// All of the agent's Prometheus metrics in one place: the flow counters
// (prometheus-cpp Families fed with increments), the snapshot-derived
// metrics, and the build info; expose() renders the text format.
#pragma once

#include <prometheus/registry.h>

#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "agent/metrics/flow_delta_tracker.hpp"
#include "agent/metrics/flow_metrics.hpp"
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
  // thread that publishes snapshots.
  void update_flows(std::span<const FlowView> live, std::span<const FlowView> evicted = {},
                    std::span<const std::string> pods_gone = {});

  FlowMetrics& flows() { return flows_; }
  prometheus::Registry& registry() { return *registry_; }

  // The whole exposition (text format 0.0.4).
  std::string expose() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  FlowMetrics flows_;
  std::mutex tracker_mu_;
  FlowDeltaTracker tracker_;
  SnapshotCollector collector_;
};

}  // namespace netring::agent::metrics
