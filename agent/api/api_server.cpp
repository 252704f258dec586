#include "agent/api/api_server.hpp"
#include <algorithm>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "agent/api/drop_query.hpp"
#include "agent/api/host_guard.hpp"
#include "agent/api/json_views.hpp"
#include "agent/api/page_assets.hpp"
#include "agent/api/top_talkers.hpp"

namespace netring::agent::api {
namespace {

// The page loads its script, style and data from this listener only: no
// inline script or style, no other origin, no framing.
constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

httplib::Headers default_headers() {
  return {{std::string(kApiVersionHeader), std::string(kApiVersion)},
          {"Content-Security-Policy", kContentSecurityPolicy},
          {"X-Content-Type-Options", "nosniff"},
          {"X-Frame-Options", "DENY"},
          {"Referrer-Policy", "no-referrer"},
          {"Cross-Origin-Opener-Policy", "same-origin"},
          {"Cross-Origin-Resource-Policy", "same-origin"},
          {"Cache-Control", "no-store"}};
}

http::GatedServer::Limits gate_limits(const ApiOptions& o) {
  http::GatedServer::Limits l;
  // A stream and the one capture each hold a worker for as long as they run.
  l.workers = o.max_follow_streams + 1 + std::max<std::size_t>(1, o.request_workers);
  l.oversized_headers = default_headers();
  return l;
}

void serve_page_asset(const httplib::Request& req, httplib::Response& res) {
  if (auto e = check_parameters(req, {})) return send_error(res, *e);
  const PageAsset* a = find_page_asset(req.path);
  if (a == nullptr) return send_error(res, ApiError{404, "no such file: " + req.path, ""});
  // Revalidated on every load (the agent may have been upgraded), sent
  // again only when it changed.
  res.headers.erase("Cache-Control");
  res.set_header("Cache-Control", "no-cache");
  res.set_header("ETag", std::string(a->etag));
  if (req.get_header_value("If-None-Match") == a->etag) {
    res.status = 304;
    return;
  }
  res.status = 200;
  res.set_content(a->body.data(), a->body.size(), std::string(a->content_type).c_str());
}

}  // namespace

ApiServer::ApiServer(ApiOptions opts, const SnapshotProvider& provider, capture_api::CaptureTap* tap)
    : opts_(std::move(opts)),
      provider_(provider),
      have_tap_(tap != nullptr),
      rates_(opts_.max_rate_window),
      gate_(new http::GatedServer(gate_limits(opts_))),
      listener_(std::unique_ptr<httplib::Server>(gate_)) {
  gate_->answer_inline("/healthz");
  gate_->answer_inline("/readyz");
  if (tap == nullptr) {
    own_tap_ = std::make_unique<capture_api::CaptureTap>();
    tap = own_tap_.get();
  }
  capture_ = std::make_unique<capture_api::CaptureApi>(opts_.capture, *tap, opts_.audit_log, stopping_);

  auto& s = listener_.server();
  s.set_default_headers(default_headers());
  s.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    std::string host = req.get_header_value("Host");
    if (host_header_allowed(host)) return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, ApiError{403,
                             "request for host '" + host +
                                 "' refused: this API answers only to localhost or an IP address (use the "
                                 "address kubectl port-forward listens on, e.g. 127.0.0.1:9991)",
                             ""});
    return httplib::Server::HandlerResponse::Handled;
  });
  s.Get("/", serve_page_asset);
  s.Get("/ui/.*", serve_page_asset);
  s.Get("/api/v1/flows", [this](const httplib::Request& req, httplib::Response& res) { flows(req, res); });
  s.Get("/api/v1/dns", [this](const httplib::Request& req, httplib::Response& res) { dns(req, res); });
  s.Get("/api/v1/drops", [this](const httplib::Request& req, httplib::Response& res) { drops(req, res); });
  s.Get("/api/v1/top", [this](const httplib::Request& req, httplib::Response& res) { top(req, res); });
  s.Get("/api/v1/interfaces", [this](const httplib::Request& req, httplib::Response& res) { interfaces(req, res); });
  s.Get("/api/v1/status", [this](const httplib::Request& req, httplib::Response& res) { status(req, res); });
  s.Get("/api/v1/capture", [this](const httplib::Request& req, httplib::Response& res) {
    if (!have_tap_ && opts_.capture.enabled)
      return send_error(res, ApiError{503, "no data path feeds captures in this process", ""});
    capture_->handle(req, res);
  });
  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  s.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    bool ready = provider_.snapshot()->status.ready;
    res.status = ready ? 200 : 503;
    res.set_content(ready ? "ready\n" : "not ready: the data path has not reported ready\n", "text/plain");
  });
  // Every error gets a JSON body, including those cpp-httplib answers
  // itself before any route (414 URI too long, 400 unparsable request, 413).
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    static const char* const kEndpoints[] = {
        "/api/v1/flows",  "/api/v1/dns",     "/api/v1/drops", "/api/v1/top", "/api/v1/interfaces",
        "/api/v1/status", "/api/v1/capture", "/healthz",      "/readyz",     "/"};
    const bool known = std::find(std::begin(kEndpoints), std::end(kEndpoints), req.path) != std::end(kEndpoints);
    if (res.status == 404 && known && req.method != "GET") {
      res.set_header("Allow", "GET, HEAD");
      return send_error(res, ApiError{405, "method " + req.method + " not allowed on " + req.path + " (GET only)", ""});
    }
    if (res.status == 404)
      return send_error(
          res,
          ApiError{
              404,
              "no such endpoint: " + req.path +
                  " (see /api/v1/flows, /api/v1/dns, /api/v1/drops, /api/v1/top, /api/v1/interfaces, /api/v1/status, "
                  "/api/v1/capture, and the page at /)",
              ""});
    if (res.status >= 400 && res.status < 500) {
      const int status = res.status;
      const char* why = status == 414   ? "the request line is too long"
                        : status == 413 ? "the request body is too large"
                        : status == 431 ? "the request headers are too large"
                                        : "the request could not be read";
      send_error(res, ApiError{status, std::string(why) + " (HTTP " + std::to_string(status) + ")", ""});
    }
  });
}

ApiServer::~ApiServer() {
  stop();
}

Result<void> ApiServer::start() {
  stopping_ = false;
  if (auto r = listener_.start(opts_.listen); !r) return r;
  return ok();
}

void ApiServer::stop() {
  stopping_ = true;
  listener_.stop();
  // Streams notice stopping_ within 200 ms and end on the gate's workers.
  for (int i = 0; i < 500 && follow_streams_.load() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

void ApiServer::flows(const httplib::Request& req, httplib::Response& res) {
  auto parsed = parse_flow_query(req, opts_.flows, realtime_ns());
  if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(res, *e);
  FlowQuery q = std::get<FlowQuery>(std::move(parsed));
  if (q.follow) return follow(std::move(q), res);

  auto snap = provider_.snapshot();
  FlowSelection sel = select_flows(snap->flows, q);
  nlohmann::json out{{"flows", nlohmann::json::array()},
                     {"count", sel.flows.size()},
                     {"matched", sel.matched},
                     {"truncated", sel.matched > sel.flows.size()},
                     {"taken", snap->taken_ns ? nlohmann::json(format_time_ns(snap->taken_ns)) : nullptr}};
  auto& arr = out["flows"];
  for (const FlowView* f : sel.flows) arr.push_back(to_json(*f));
  send_json(res, out.dump() + "\n");
}

void ApiServer::drops(const httplib::Request& req, httplib::Response& res) {
  auto parsed = parse_drop_query(req, opts_.flows, realtime_ns());
  if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(res, *e);
  const DropQuery q = std::get<DropQuery>(std::move(parsed));
  auto snap = provider_.snapshot();
  static const std::vector<DropView> kNone;
  const std::vector<DropView>& all = snap->drops ? *snap->drops : kNone;
  DropSelection sel = select_drops(all, q);
  const KernelEventStatus& k = snap->status.kernel_events;
  nlohmann::json out{{"drops", nlohmann::json::array()},
                     {"count", sel.drops.size()},
                     {"matched", sel.matched},
                     {"truncated", sel.matched > sel.drops.size()},
                     {"enabled", k.drops},
                     {"details_suppressed", k.drop_details_suppressed},
                     {"taken", snap->taken_ns ? nlohmann::json(format_time_ns(snap->taken_ns)) : nullptr}};
  if (!k.drops) out["reason"] = k.drops_reason;
  auto& arr = out["drops"];
  for (const DropView* d : sel.drops) arr.push_back(to_json(*d));
  send_json(res, out.dump() + "\n");
}

// The NDJSON streams (follow=true): at most max_follow_streams at once;
// `opening` renders the lines of the current snapshot, `update` those a newer
// one brings; empty keep-alive lines while idle. Runs until the client goes
// away or the server stops. Both run on the stream's thread, in order.
void ApiServer::stream(httplib::Response& res, std::function<std::string(const AgentSnapshot&)> opening,
                       std::function<std::string(const AgentSnapshot&)> update) {
  if (follow_streams_.fetch_add(1) >= opts_.max_follow_streams) {
    follow_streams_.fetch_sub(1);
    return send_error(
        res,
        ApiError{429, "too many follow streams (at most " + std::to_string(opts_.max_follow_streams) + "); retry later",
                 "follow"});
  }
  res.set_chunked_content_provider(
      "application/x-ndjson",
      [this, opening = std::move(opening), update = std::move(update)](std::size_t, httplib::DataSink& sink) {
        auto snap = provider_.snapshot();
        std::string buf = opening(*snap);
        if (!buf.empty() && !sink.write(buf.data(), buf.size())) return false;
        auto idle_since = std::chrono::steady_clock::now();
        std::uint64_t generation = snap->generation;
        while (!stopping_.load()) {
          auto wait = std::min<std::chrono::milliseconds>(opts_.follow_keepalive, std::chrono::milliseconds(200));
          snap = provider_.wait_newer(generation, wait);
          buf.clear();
          if (snap->generation != generation) {
            generation = snap->generation;
            buf = update(*snap);
          }
          auto now = std::chrono::steady_clock::now();
          if (buf.empty() && now - idle_since >= opts_.follow_keepalive) buf = "\n";
          if (!buf.empty()) {
            idle_since = now;
            if (!sink.write(buf.data(), buf.size())) return false;  // client went away
          }
        }
        sink.done();
        return true;
      },
      [this](bool) { follow_streams_.fetch_sub(1); });
}

// NDJSON, one flow per line, as `hubble observe --follow`: first the matching
// flows of the current snapshot (oldest first, at most `limit`), then each
// flow again whenever a publication shows it new or grown.
void ApiServer::follow(FlowQuery q, httplib::Response& res) {
  // A flow is its id and its monotonic start: the wall-clock first_seen
  // moves when the clock is stepped, and that is not a new flow.
  struct Key {
    std::uint64_t id, start_mono;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const { return k.id * 0x9E3779B97F4A7C15ull ^ k.start_mono; }
  };
  // flow -> samples when last sent; shared by the two callbacks of one stream.
  auto sent = std::make_shared<std::unordered_map<Key, std::uint64_t, KeyHash>>();
  auto opening = [q, sent](const AgentSnapshot& snap) {
    FlowQuery first = q;
    first.sort = FlowSort::kLastSeen;
    FlowSelection sel = select_flows(snap.flows, first);
    std::string buf;
    for (auto it = sel.flows.rbegin(); it != sel.flows.rend(); ++it) buf += to_json(**it).dump() + "\n";
    for (const FlowView& f : snap.flows) (*sent)[Key{f.id, f.start_mono_ns}] = f.samples;
    return buf;
  };
  auto update = [q, sent](const AgentSnapshot& snap) {
    std::unordered_map<Key, std::uint64_t, KeyHash> next;
    next.reserve(snap.flows.size());
    std::vector<const FlowView*> changed;
    for (const FlowView& f : snap.flows) {
      Key k{f.id, f.start_mono_ns};
      auto old = sent->find(k);
      if ((old == sent->end() || old->second != f.samples) && q.matches(f)) changed.push_back(&f);
      next.emplace(k, f.samples);
    }
    sent->swap(next);  // forgets evicted flows: memory follows the table
    std::sort(changed.begin(), changed.end(),
              [](const FlowView* a, const FlowView* b) { return a->last_seen_ns < b->last_seen_ns; });
    std::string buf;
    for (const FlowView* f : changed) buf += to_json(*f).dump() + "\n";
    return buf;
  };
  stream(res, std::move(opening), std::move(update));
}

void ApiServer::dns(const httplib::Request& req, httplib::Response& res) {
  auto parsed = parse_dns_query(req, opts_.flows, realtime_ns());
  if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(res, *e);
  DnsQuery q = std::get<DnsQuery>(std::move(parsed));
  auto snap = provider_.snapshot();
  if (!snap->status.control.dns)
    return send_error(res, ApiError{404, "DNS tracking is off (--dns=off) or no data path runs", ""});
  if (q.flow.follow) return dns_follow(std::move(q), res);
  static const std::vector<DnsRecord> kNone;
  const std::vector<DnsRecord>& all = snap->dns ? *snap->dns : kNone;
  DnsSelection sel = select_dns(all, q);
  nlohmann::json out{{"dns", nlohmann::json::array()},
                     {"count", sel.records.size()},
                     {"matched", sel.matched},
                     {"truncated", sel.matched > sel.records.size()},
                     {"taken", snap->taken_ns ? nlohmann::json(format_time_ns(snap->taken_ns)) : nullptr}};
  auto& arr = out["dns"];
  for (const DnsRecord* d : sel.records) arr.push_back(to_json(*d));
  send_json(res, out.dump() + "\n");
}

// NDJSON, one record per line: the matching records of the current
// snapshot (oldest first, at most `limit`), then each new record as a
// publication brings it.
void ApiServer::dns_follow(DnsQuery q, httplib::Response& res) {
  auto sent_seq = std::make_shared<std::uint64_t>(0);  // the newest record looked at
  auto opening = [q, sent_seq](const AgentSnapshot& snap) {
    std::string buf;
    if (!snap.dns || snap.dns->empty()) return buf;
    DnsSelection sel = select_dns(*snap.dns, q);
    for (auto it = sel.records.rbegin(); it != sel.records.rend(); ++it) buf += to_json(**it).dump() + "\n";
    *sent_seq = snap.dns->back().seq;
    return buf;
  };
  auto update = [q, sent_seq](const AgentSnapshot& snap) {
    std::string buf;
    if (!snap.dns || snap.dns->empty()) return buf;
    for (const DnsRecord& d : *snap.dns)
      if (d.seq > *sent_seq && q.matches(d)) buf += to_json(d).dump() + "\n";
    *sent_seq = std::max(*sent_seq, snap.dns->back().seq);
    return buf;
  };
  stream(res, std::move(opening), std::move(update));
}

void ApiServer::top(const httplib::Request& req, httplib::Response& res) {
  if (auto e = check_parameters(req, {"key", "by", "limit", "window"})) return send_error(res, *e);
  auto key_text = param(req, "key");
  if (!key_text)
    return send_error(res, ApiError{400, "key is required (src_workload|dst_workload|pair|namespace|pod)", "key"});
  auto key = parse_top_key(*key_text);
  if (!key)
    return send_error(
        res, ApiError{400, "'" + *key_text + "' is not a key (src_workload|dst_workload|pair|namespace|pod)", "key"});
  TopBy by = TopBy::kBytes;
  if (auto v = param(req, "by")) {
    if (*v == "bytes")
      by = TopBy::kBytes;
    else if (*v == "packets")
      by = TopBy::kPackets;
    else
      return send_error(res, ApiError{400, "'" + *v + "' is not a measure (bytes|packets)", "by"});
  }
  std::uint64_t limit = opts_.top_default_limit;
  if (auto v = param(req, "limit")) {
    if (auto e = parse_count("limit", *v, 1, opts_.top_max_limit, limit)) return send_error(res, *e);
  }
  std::optional<std::chrono::milliseconds> window;
  if (auto v = param(req, "window")) {
    window = parse_duration(*v);
    if (!window || *window < std::chrono::seconds(1) || *window > opts_.max_rate_window) {
      auto max_s = std::chrono::duration_cast<std::chrono::seconds>(opts_.max_rate_window).count();
      return send_error(res, ApiError{400,
                                      "'" + *v + "' is not a window in 1s.." + std::to_string(max_s) +
                                          "s (e.g. 10s, 1m: the growth history kept)",
                                      "window"});
    }
  }
  std::size_t groups = 0;
  std::vector<TopEntry> entries;
  double covered = 0;
  if (window) {
    WindowedTop w = rates_.top(*key, by, limit, *window);
    entries = std::move(w.entries);
    groups = w.groups;
    covered = w.covered_seconds;
  } else {
    entries = top_talkers(provider_.snapshot()->flows, *key, by, limit, &groups);
  }
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& e : entries) {
    nlohmann::json j{{"key", e.key}, {"bytes", e.bytes}, {"packets", e.packets}};
    if (window) {
      j["bytes_per_second"] = covered > 0 ? e.bytes / covered : 0.0;
      j["packets_per_second"] = covered > 0 ? e.packets / covered : 0.0;
    } else {
      j["flows"] = e.flows;
    }
    if (*key == TopKey::kPair) {
      j["src"] = e.src;
      j["dst"] = e.dst;
    }
    arr.push_back(std::move(j));
  }
  nlohmann::json out{{"key", *key_text},
                     {"by", by == TopBy::kBytes ? "bytes" : "packets"},
                     {"top", arr},
                     {"groups", groups},
                     {"truncated", groups > entries.size()}};
  if (window) {
    out["window_seconds"] = std::chrono::duration<double>(*window).count();
    out["covered_seconds"] = covered;
  }
  send_json(res, out.dump() + "\n");
}

void ApiServer::interfaces(const httplib::Request& req, httplib::Response& res) {
  if (auto e = check_parameters(req, {})) return send_error(res, *e);
  auto snap = provider_.snapshot();
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& i : snap->interfaces) arr.push_back(to_json(i));
  send_json(res, nlohmann::json{{"interfaces", arr}}.dump() + "\n");
}

void ApiServer::status(const httplib::Request& req, httplib::Response& res) {
  if (auto e = check_parameters(req, {})) return send_error(res, *e);
  auto snap = provider_.snapshot();
  nlohmann::json j = to_json(snap->status);
  j["capture_api"] = {{"enabled", opts_.capture.enabled},
                      {"running", capture_->running()},
                      {"max_duration_ms", opts_.capture.max_duration.count()},
                      {"max_packets", opts_.capture.max_packets},
                      {"snap_len", opts_.capture.snap_len}};
  send_json(res, j.dump() + "\n");
}

}  // namespace netring::agent::api
