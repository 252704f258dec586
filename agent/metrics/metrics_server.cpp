#include "agent/metrics/metrics_server.hpp"

#include <memory>
#include <string>

namespace netring::agent::metrics {
namespace {
constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";
}  // namespace

MetricsServer::MetricsServer(const AgentMetrics& metrics, const SnapshotProvider& provider) {
  auto& s = listener_.server();
  s.Get("/metrics", [&metrics](const httplib::Request& req, httplib::Response& res) {
    std::shared_ptr<const std::string> body = metrics.exposition();
    if (req.get_header_value("Accept-Encoding").find("gzip") != std::string::npos) {
      // Prometheus asks for gzip by default; httplib compresses a body set
      // with set_content (and only that), so it gets its own copy here.
      res.set_content(*body, kContentType);
      return;
    }
    // Served straight from the shared rendering: no copy of a multi-MB body.
    res.set_content_provider(body->size(), kContentType,
                             [body](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
                               return sink.write(body->data() + offset, length);
                             });
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
