#include "agent/metrics/metrics_server.hpp"

#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <zlib.h>

namespace netring::agent::metrics {
namespace {
constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";
}  // namespace

MetricsServer::MetricsServer(const AgentMetrics& metrics, const SnapshotProvider& provider)
    : gate_(new http::GatedServer()), listener_(std::unique_ptr<httplib::Server>(gate_)) {
  gate_->answer_inline("/healthz");
  gate_->answer_inline("/readyz");
  auto& s = listener_.server();
  s.Get("/metrics", [this, &metrics](const httplib::Request& req, httplib::Response& res) {
    std::shared_ptr<const std::string> body = metrics.exposition();
    // Prometheus asks for gzip by default (same test as httplib's own).
    if (req.get_header_value("Accept-Encoding").find("gzip") != std::string::npos) {
      if (auto gz = gzipped(body)) {
        res.set_header("Content-Encoding", "gzip");
        body = std::move(gz);
      }
    }
    // Served straight from the shared buffer: no copy of a multi-MB body.
    // httplib does not compress a response of known length again.
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

std::shared_ptr<const std::string> MetricsServer::gzipped(const std::shared_ptr<const std::string>& body) {
  std::lock_guard lock(gzip_mu_);
  if (gzip_.source == body) return gzip_.gzip;
  // Once per rendering, not per scrape, and at zlib's fastest level:
  // httplib's compressor uses the default level (6), ~15 ms for the 1.8 MB
  // of 10k series, which pushed a gzip scrape past 50 ms; the exposition is
  // repetitive text and level 1 still shrinks it about tenfold.
  z_stream zs{};
  // windowBits 15 + 16: a gzip wrapper rather than zlib's own.
  if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return nullptr;
  std::string out(deflateBound(&zs, static_cast<uLong>(body->size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body->data()));
  zs.avail_in = static_cast<uInt>(body->size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return nullptr;
  gzip_ = {body, std::make_shared<const std::string>(std::move(out))};
  return gzip_.gzip;
}

}  // namespace netring::agent::metrics
