// The metrics listener (--metrics-listen, 0.0.0.0:9990 by default):
// /metrics for Prometheus, /healthz and /readyz for the kubelet's probes.
// It carries aggregates only (no pod addresses), so it may listen where
// Prometheus can reach it; the flow API has its own, loopback listener.
// Listening where every pod can connect, it is a GatedServer: idle or slow
// connections never hold a thread, and the probes are answered on its event
// thread, never queued behind a /metrics response.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "agent/http/gated_server.hpp"
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
  http::GatedServer::Stats connection_stats() const { return gate_->stats(); }

 private:
  // The gzip form of `body`, kept for the next scrape of the same rendering
  // (AgentMetrics hands out the same buffer while the data is unchanged).
  // Null if zlib fails.
  std::shared_ptr<const std::string> gzipped(const std::shared_ptr<const std::string>& body);

  struct Compressed {
    std::shared_ptr<const std::string> source;  // held: a freed buffer's address may come back
    std::shared_ptr<const std::string> gzip;
  };
  std::mutex gzip_mu_;
  Compressed gzip_;
  http::GatedServer* gate_;  // listener_'s server
  // Last: stopped (its thread joined) before the members above go.
  http::HttpListener listener_;
};

}  // namespace netring::agent::metrics
