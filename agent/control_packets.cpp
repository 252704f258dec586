#include "agent/control_packets.hpp"

#include <algorithm>

namespace netring::agent {

ControlPackets::ControlPackets(ControlPacketsOptions opts)
    : opts_(opts),
      dns_(dns::TrackerConfig{.timeout_ns = opts.dns_timeout_ns, .max_pending = opts.dns_max_pending}),
      tcp_(handshake::TrackerConfig{.max_connections = opts.tcp_max_connections}) {}

void ControlPackets::feed(std::span<const WorkerReport* const> reports, std::uint64_t now_ns, const ControlSink& sink) {
  dns_order_.clear();
  tcp_order_.clear();
  for (const WorkerReport* r : reports) {
    for (const DnsEvent& e : r->dns) dns_order_.push_back(&e);
    for (const TcpControlEvent& e : r->tcp) tcp_order_.push_back(&e);
  }
  // Stable: a worker's own events keep their order when times tie.
  std::stable_sort(dns_order_.begin(), dns_order_.end(),
                   [](const DnsEvent* a, const DnsEvent* b) { return a->ts_ns < b->ts_ns; });
  std::stable_sort(tcp_order_.begin(), tcp_order_.end(),
                   [](const TcpControlEvent* a, const TcpControlEvent* b) { return a->ts_ns < b->ts_ns; });
  for (const DnsEvent* e : dns_order_) {
    if (sink.dns_message) sink.dns_message(e->key, e->msg);
    if (e->msg.response)
      dns_.response(e->key, e->msg, e->ts_ns);
    else
      dns_.query(e->key, e->msg, e->ts_ns);
  }
  dns_.expire(now_ns);
  for (const dns::Exchange& x : dns_.take())
    if (sink.dns_exchange) sink.dns_exchange(x);

  for (const TcpControlEvent* e : tcp_order_) tcp_.packet(e->key, e->flags, e->ts_ns);
  tcp_.expire(now_ns);
  for (const handshake::Event& ev : tcp_.take())
    if (sink.tcp_event) sink.tcp_event(ev);
}

}  // namespace netring::agent
