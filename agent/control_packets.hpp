// The publisher's side of DNS and TCP handshake tracking: each round it
// merges the workers' control events in time order (a query and its
// response, a SYN and its SYN-ACK, usually reach different workers, as a
// flow's worker is a function of its directional key), feeds the matchers
// (dns::Tracker, handshake::Tracker) and hands what they decided to a Sink,
// which names the endpoints and counts them. Publisher thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "agent/worker.hpp"
#include "pkg/dns/tracker.hpp"
#include "pkg/handshake/tracker.hpp"

namespace netring::agent {

struct ControlPacketsOptions {
  bool dns = false;
  bool tcp_handshake = false;
  std::uint64_t dns_timeout_ns = 5'000'000'000;
  std::size_t dns_max_pending = 65536;
  std::size_t tcp_max_connections = 65536;
};

struct ControlSink {
  // A DNS message as it passed: `key` as seen.
  std::function<void(const flow::FlowKey& key, const dns::Message& m)> dns_message;
  std::function<void(const dns::Exchange&)> dns_exchange;
  std::function<void(const handshake::Event&)> tcp_event;
};

class ControlPackets {
 public:
  explicit ControlPackets(ControlPacketsOptions opts);

  // This round's events of every worker; queries older than the DNS
  // timeout at `now_ns` (CLOCK_MONOTONIC) time out.
  void feed(std::span<const WorkerReport* const> reports, std::uint64_t now_ns, const ControlSink& sink);

  const ControlPacketsOptions& options() const { return opts_; }
  const dns::Tracker& dns() const { return dns_; }
  const handshake::Tracker& handshakes() const { return tcp_; }

 private:
  ControlPacketsOptions opts_;
  dns::Tracker dns_;
  handshake::Tracker tcp_;
  std::vector<const DnsEvent*> dns_order_;         // reused each round
  std::vector<const TcpControlEvent*> tcp_order_;  // reused each round
};

}  // namespace netring::agent
