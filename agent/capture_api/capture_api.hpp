// GET /api/v1/capture?filter=<pcap expression>&duration=<dur>&max_packets=N
//
// Streams the samples that match as a pcap file (chunked), bounded in time
// and packets, one capture at a time (429 otherwise). Captures expose pod
// payloads, so the endpoint is off unless --enable-capture-api is given, the
// records are cut at the snap length (headers only by default), and every
// capture is logged for audit: who asked, the filter, the bounds, and how it
// ended.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "agent/capture_api/capture_tap.hpp"

namespace netring::agent::capture_api {

struct CaptureOptions {
  bool enabled = false;                                                  // --enable-capture-api
  std::chrono::milliseconds max_duration{std::chrono::seconds(60)};      // --capture-max-duration
  std::chrono::milliseconds default_duration{std::chrono::seconds(10)};  // when duration= is absent
  std::uint64_t max_packets = 100000;                                    // --capture-max-packets
  // Bytes kept per record. 128 covers Ethernet + IPv6 + TCP with options
  // and little payload; the samples are already cut at --snap-len.
  std::uint32_t snap_len = 128;
  std::size_t queue_capacity = 8192;  // samples buffered between workers and the HTTP stream
};

// One logfmt line per event; the integration routes it to the agent's log.
using AuditLog = std::function<void(const std::string& line)>;
AuditLog stderr_audit_log();

class CaptureApi {
 public:
  // `stopping` ends running captures when the server shuts down.
  CaptureApi(CaptureOptions opts, CaptureTap& tap, AuditLog audit, const std::atomic<bool>& stopping);
  void handle(const httplib::Request& req, httplib::Response& res);
  bool running() const { return tap_.active(); }

 private:
  CaptureOptions opts_;
  CaptureTap& tap_;
  AuditLog audit_;
  const std::atomic<bool>& stopping_;
};

}  // namespace netring::agent::capture_api
