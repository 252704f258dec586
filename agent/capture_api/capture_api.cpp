#include "agent/capture_api/capture_api.hpp"

#include <cstdio>
#include <memory>

#include "agent/api/api_error.hpp"
#include "agent/capture_api/pcap_stream.hpp"

namespace netring::agent::capture_api {
namespace {

using api::ApiError;
using Clock = std::chrono::steady_clock;

std::string logfmt_quote(const std::string& v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out + "\"";
}

std::string ms_text(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + "ms";
}

}  // namespace

AuditLog stderr_audit_log() {
  return [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
}

CaptureApi::CaptureApi(CaptureOptions opts, CaptureTap& tap, AuditLog audit, const std::atomic<bool>& stopping)
    : opts_(opts), tap_(tap), audit_(audit ? std::move(audit) : stderr_audit_log()), stopping_(stopping) {}

void CaptureApi::handle(const httplib::Request& req, httplib::Response& res) {
  const std::string who = req.remote_addr + ":" + std::to_string(req.remote_port);
  if (!opts_.enabled) {
    api::send_error(res, ApiError{403,
                                  "the capture API is disabled: it exposes pod payloads; start the agent with "
                                  "--enable-capture-api to allow it",
                                  ""});
    audit_("level=warn msg=\"capture refused\" reason=disabled remote=" + logfmt_quote(who));
    return;
  }
  if (auto e = api::check_parameters(req, {"filter", "duration", "max_packets"})) return api::send_error(res, *e);

  std::string filter = api::param(req, "filter").value_or("");
  std::chrono::milliseconds duration = std::min(opts_.default_duration, opts_.max_duration);
  if (auto v = api::param(req, "duration")) {
    auto d = api::parse_duration(*v);
    if (!d || d->count() == 0 || *d > opts_.max_duration)
      return api::send_error(res, ApiError{400,
                                           "'" + *v + "' is not a duration in 1ms.." + ms_text(opts_.max_duration) +
                                               " (e.g. 10s; the bound is --capture-max-duration)",
                                           "duration"});
    duration = *d;
  }
  std::uint64_t max_packets = opts_.max_packets;
  if (auto v = api::param(req, "max_packets")) {
    if (auto e = api::parse_count("max_packets", *v, 1, opts_.max_packets, max_packets)) {
      e->message += " (the bound is --capture-max-packets)";
      return api::send_error(res, *e);
    }
  }
  auto stream = PcapStream::open(opts_.snap_len, filter);
  if (!stream.ok())
    return api::send_error(res, ApiError{400, "bad pcap filter: " + stream.error().message(), "filter"});

  std::shared_ptr<CaptureTap::Subscription> sub = tap_.subscribe(opts_.snap_len, opts_.queue_capacity);
  if (!sub) {
    api::send_error(res, ApiError{429, "a capture is already running (one at a time); retry when it ends", ""});
    audit_("level=warn msg=\"capture refused\" reason=busy remote=" + logfmt_quote(who) +
           " filter=" + logfmt_quote(filter));
    return;
  }
  audit_("level=info msg=\"capture started\" remote=" + logfmt_quote(who) + " filter=" + logfmt_quote(filter) +
         " duration=" + ms_text(duration) + " max_packets=" + std::to_string(max_packets) +
         " snap_len=" + std::to_string(opts_.snap_len));

  struct State {
    std::shared_ptr<CaptureTap::Subscription> sub;
    std::unique_ptr<PcapStream> pcap;
    std::uint64_t written = 0;
    std::string ended = "client_gone";
    Clock::time_point started = Clock::now();
  };
  auto st = std::make_shared<State>();
  st->sub = std::move(sub);
  st->pcap = std::move(*stream);

  res.set_header("Content-Disposition", "attachment; filename=\"netring.pcap\"");
  const auto deadline = st->started + duration;
  res.set_chunked_content_provider(
      "application/vnd.tcpdump.pcap",
      [this, st, deadline, max_packets](std::size_t, httplib::DataSink& sink) {
        std::vector<TappedPacket> batch(std::min<std::size_t>(256, opts_.queue_capacity));
        std::string head = st->pcap->take();
        if (!sink.write(head.data(), head.size())) return false;
        while (true) {
          if (stopping_.load()) {
            st->ended = "shutdown";
            break;
          }
          auto now = Clock::now();
          if (now >= deadline) {
            st->ended = "duration";
            break;
          }
          auto wait = std::min<Clock::duration>(deadline - now, std::chrono::milliseconds(100));
          std::size_t n = st->sub->pop(
              batch, std::chrono::duration_cast<std::chrono::milliseconds>(wait) + std::chrono::milliseconds(1));
          for (std::size_t i = 0; i < n && st->written < max_packets; ++i) {
            if (!st->pcap->matches(batch[i])) continue;
            st->pcap->write(batch[i]);
            ++st->written;
          }
          std::string chunk = st->pcap->take();
          if (!chunk.empty() && !sink.write(chunk.data(), chunk.size())) return false;  // client went away
          if (st->written >= max_packets) {
            st->ended = "max_packets";
            break;
          }
        }
        sink.done();
        return true;
      },
      [this, st, who, filter](bool) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - st->started);
        audit_("level=info msg=\"capture ended\" remote=" + logfmt_quote(who) + " filter=" + logfmt_quote(filter) +
               " ended=" + st->ended + " packets=" + std::to_string(st->written) +
               " queue_dropped=" + std::to_string(st->sub->dropped()) + " elapsed=" + ms_text(ms));
        st->sub.reset();  // the next capture may start
      });
}

}  // namespace netring::agent::capture_api
