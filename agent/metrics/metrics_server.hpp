// The metrics listener (--metrics-listen, 0.0.0.0:9990 by default):
// /metrics for Prometheus, /healthz and /readyz for the kubelet's probes.
// It carries aggregates only (no pod addresses), so it may listen where
// Prometheus can reach it; the flow API has its own, loopback listener.
#pragma once

#include "agent/http/http_listener.hpp"
#include "agent/metrics/agent_metrics.hpp"
#include "agent/model.hpp"

namespace netring::agent::metrics {

class MetricsServer {
 public:
  MetricsServer(const AgentMetrics& metrics, const SnapshotProvider& provider);
  Result<void> start(const http::ListenAddress& addr) { return listener_.start(addr); }
  int port() const { return listener_.port(); }
  void stop() { listener_.stop(); }

 private:
  http::HttpListener listener_;
};

}  // namespace netring::agent::metrics
