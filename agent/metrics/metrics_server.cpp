#include "agent/metrics/metrics_server.hpp"

namespace netring::agent::metrics {

MetricsServer::MetricsServer(const AgentMetrics& metrics, const SnapshotProvider& provider) {
  auto& s = listener_.server();
  s.Get("/metrics", [&metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.expose(), "text/plain; version=0.0.4; charset=utf-8");
  });
  // Liveness: the process answers. Readiness: the data path is hooked and
  // delivering, so a rollout waits for each node to really observe.
  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  s.Get("/readyz", [&provider](const httplib::Request&, httplib::Response& res) {
    if (provider.snapshot()->status.ready) {
      res.set_content("ready\n", "text/plain");
    } else {
      res.status = 503;
      res.set_content("not ready: the data path has not reported ready\n", "text/plain");
    }
  });
}

}  // namespace netring::agent::metrics
