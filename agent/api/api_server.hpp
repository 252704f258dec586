// The flow API listener (--api-listen, 127.0.0.1:9991 by default).
//
// Why loopback by default: /api/v1/flows names every pod on the node with its
// addresses, ports and peers, and /api/v1/capture (when enabled) hands out
// packet headers. Nothing here authenticates, so the API is reached with
// `kubectl port-forward`, which puts the Kubernetes API server's
// authentication and RBAC (pods/portforward) in front of it. Binding it to
// the pod network would let any pod in the cluster read it. The metrics
// listener carries aggregates only and is the one Prometheus scrapes.
// See doc/security.md.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include "agent/api/dns_query.hpp"
#include "agent/api/flow_query.hpp"
#include "agent/api/rate_history.hpp"
#include "agent/capture_api/capture_api.hpp"
#include "agent/http/gated_server.hpp"
#include "agent/http/http_listener.hpp"
#include "agent/model.hpp"

namespace netring::agent::api {

// Every answer of the API listener names the API versions it serves
// ("1"), so a client tells a version mismatch, and a port that is not this
// API at all, from an ordinary error.
inline constexpr std::string_view kApiVersionHeader = "Netring-Api-Version";
inline constexpr std::string_view kApiVersion = "1";

struct ApiOptions {
  http::ListenAddress listen{"127.0.0.1", 9991};
  FlowQueryLimits flows;
  std::size_t top_default_limit = 10;
  std::size_t top_max_limit = 1000;
  // Each follow stream (and the capture) holds one of the listener's worker
  // threads; the cap keeps the others free for ordinary requests.
  std::size_t max_follow_streams = 4;
  // Workers for ordinary requests, beyond those the streams may hold.
  std::size_t request_workers = 4;
  // An idle follow stream sends an empty line this often: it is how a client
  // that went away is noticed (the write fails) without new flows to send.
  std::chrono::milliseconds follow_keepalive{std::chrono::seconds(5)};
  // The longest /api/v1/top?window= (the growth history kept).
  std::chrono::milliseconds max_rate_window = RateHistory::kDefaultMaxWindow;
  capture_api::CaptureOptions capture;
  capture_api::AuditLog audit_log;  // default: stderr
};

class ApiServer {
 public:
  // `tap` may be null when there is no data path (capture then answers 503).
  ApiServer(ApiOptions opts, const SnapshotProvider& provider, capture_api::CaptureTap* tap);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  Result<void> start();
  int port() const { return listener_.port(); }
  // Ends running follow streams and captures, then stops the listener.
  void stop();

  std::size_t follow_streams() const { return follow_streams_.load(); }
  // One publication's growth per flow, for top?window= and the page's
  // service map (PublisherOptions::on_growth).
  void add_growth(std::uint64_t taken_ns, std::span<const FlowGrowth> growth) { rates_.add(taken_ns, growth); }

 private:
  void flows(const httplib::Request& req, httplib::Response& res);
  void follow(FlowQuery q, httplib::Response& res);
  void dns(const httplib::Request& req, httplib::Response& res);
  void dns_follow(DnsQuery q, httplib::Response& res);
  void stream(httplib::Response& res, std::function<std::string(const AgentSnapshot&)> opening,
              std::function<std::string(const AgentSnapshot&)> update);
  void top(const httplib::Request& req, httplib::Response& res);
  void drops(const httplib::Request& req, httplib::Response& res);
  void interfaces(const httplib::Request& req, httplib::Response& res);
  void status(const httplib::Request& req, httplib::Response& res);

  ApiOptions opts_;
  const SnapshotProvider& provider_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> follow_streams_{0};
  std::unique_ptr<capture_api::CaptureTap> own_tap_;  // when none was given
  std::unique_ptr<capture_api::CaptureApi> capture_;
  bool have_tap_;
  RateHistory rates_;
  // Connections that never finish their request (a stalled client, a port
  // scanner) wait on the gate's event thread, not on a worker: they cannot
  // starve the follow streams and ordinary requests.
  http::GatedServer* gate_;  // listener_'s server
  http::HttpListener listener_;
};

}  // namespace netring::agent::api
