#include "agent/metrics/snapshot_collector.hpp"

#include <prometheus/client_metric.h>

#include <algorithm>
#include <string>
#include <utility>

namespace netring::agent::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void add(MetricFamily& f, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric m;
  std::sort(labels.begin(), labels.end());  // same order as prometheus-cpp's own families
  m.label = std::move(labels);
  if (f.type == MetricType::Counter)
    m.counter.value = value;
  else
    m.gauge.value = value;
  f.metric.push_back(std::move(m));
}

double d(std::uint64_t v) {
  return static_cast<double>(v);
}

}  // namespace

std::vector<MetricFamily> SnapshotCollector::Collect() const {
  std::shared_ptr<const AgentSnapshot> snap = provider_.snapshot();
  const AgentStatus& st = snap->status;
  std::vector<MetricFamily> out;

  auto if_bytes =
      family("netring_interface_bytes_total",
             "Bytes through a hooked interface, counted exactly (every packet: by the sampler, on capture "
             "ports by their XDP program or device): skb->len, one L2-L4 header per GSO skb, as a veth counts",
             MetricType::Counter);
  auto if_wire = family("netring_interface_wire_bytes_total",
                        "Bytes through a hooked interface as the wire carries them: every segment of a GSO skb with "
                        "its own L2-L4 headers, as a NIC or switch port counts (no preamble or FCS)",
                        MetricType::Counter);
  auto if_packets = family("netring_interface_packets_total",
                           "Packets through a hooked interface (wire packets: a GSO skb counts its segments), counted "
                           "exactly (every packet: by the sampler, on capture ports by their XDP program or device)",
                           MetricType::Counter);
  for (const InterfaceCounters& i : snap->interfaces) {
    auto labels = [&](const char* dir) {
      return std::vector<ClientMetric::Label>{
          {"interface", i.name}, {"role", i.role}, {"direction", dir}, {"ifindex", std::to_string(i.ifindex)}};
    };
    add(if_bytes, labels("rx"), d(i.rx_bytes));
    add(if_bytes, labels("tx"), d(i.tx_bytes));
    add(if_wire, labels("rx"), d(i.rx_wire_bytes));
    add(if_wire, labels("tx"), d(i.tx_wire_bytes));
    add(if_packets, labels("rx"), d(i.rx_packets));
    add(if_packets, labels("tx"), d(i.tx_packets));
  }
  out.push_back(std::move(if_bytes));
  out.push_back(std::move(if_wire));
  out.push_back(std::move(if_packets));

  // Capture ports: how each is read, and what became of its frames (the
  // frames themselves are netring_interface_*_total{role="capture-port"}).
  auto cp_info = family("netring_capture_port_info",
                        "A capture port and how its frames are taken: backend, XDP mode (none on TPACKET_V3) and why "
                        "(always 1)",
                        MetricType::Gauge);
  auto cp_sampled =
      family("netring_capture_port_sampled_total",
             "Frames of a capture port handed to the flow tables (1 in --capture-sample-rate)", MetricType::Counter);
  auto cp_lost = family("netring_capture_port_lost_total",
                        "Frames of a capture port kept by sampling but lost before the flow tables, by reason",
                        MetricType::Counter);
  for (const InterfaceCounters& i : snap->interfaces) {
    if (!i.capture) continue;
    const CapturePortState& c = *i.capture;
    add(cp_info,
        {{"interface", i.name},
         {"backend", i.backend},
         {"xdp_mode", c.xdp_mode.empty() ? "none" : c.xdp_mode},
         {"zero_copy", c.zero_copy ? "true" : "false"},
         {"reason", c.reason.empty() ? "preferred" : c.reason}},
        1);
    add(cp_sampled, {{"interface", i.name}}, d(c.sampled));
    for (const LossCounter& l : c.losses) add(cp_lost, {{"interface", i.name}, {"reason", l.reason}}, d(l.count));
  }
  out.push_back(std::move(cp_info));
  out.push_back(std::move(cp_sampled));
  out.push_back(std::move(cp_lost));
  auto exact = family("netring_exact_flow_skbs_total",
                      "skbs the kernel counted per flow exactly (result=counted), and those it left to the estimator, "
                      "by reason (--exact-flows)",
                      MetricType::Counter);
  if (!st.exact_flows.mode.empty()) {
    add(exact, {{"result", "counted"}}, d(st.exact_flows.counted_skbs));
    for (const auto& [reason, n] : st.exact_flows.uncounted) add(exact, {{"result", reason}}, d(n));
  }
  out.push_back(std::move(exact));

  auto received =
      family("netring_samples_received_total", "Samples delivered to the flow workers", MetricType::Counter);
  add(received, {}, d(st.samples_received));
  out.push_back(std::move(received));

  auto lost = family("netring_samples_lost_total",
                     "Samples lost, by the stage of the path that lost them and the reason", MetricType::Counter);
  for (const LossCounter& l : st.losses) add(lost, {{"stage", l.stage}, {"reason", l.reason}}, d(l.count));
  out.push_back(std::move(lost));

  auto parse = family("netring_parse_errors_total", "Samples the parser rejected, by reason", MetricType::Counter);
  for (const auto& [reason, n] : st.parse_errors) add(parse, {{"reason", reason}}, d(n));
  out.push_back(std::move(parse));

  auto malformed = family("netring_dns_malformed_total",
                          "DNS messages (on --dns-ports) that could not be used, by reason", MetricType::Counter);
  for (const auto& [reason, n] : st.control.dns_malformed) add(malformed, {{"reason", reason}}, d(n));
  out.push_back(std::move(malformed));

  auto forced = family("netring_forced_copies_total",
                       "Packets the sampler copied with probability 1 whatever the sample rate (DNS with --dns, TCP "
                       "SYN/FIN/RST and handshake ACKs with --tcp-handshake)",
                       MetricType::Counter);
  add(forced, {}, d(st.control.forced_copies));
  out.push_back(std::move(forced));

  auto scale = family("netring_copy_scale",
                      "The largest factor by which a CPU's copy budget (--copy-budget) now scales the sample rate "
                      "1:N (1: none)",
                      MetricType::Gauge);
  add(scale, {}, d(st.copy_budget.max_scale));
  out.push_back(std::move(scale));
  auto scaled = family("netring_scaled_copies_total",
                       "Copies the sampler drew at a rate its copy budget had scaled up (each carries that rate)",
                       MetricType::Counter);
  add(scaled, {}, d(st.copy_budget.scaled_copies));
  out.push_back(std::move(scaled));

  auto active = family("netring_flows_active", "Flows currently in the flow tables", MetricType::Gauge);
  add(active, {}, d(st.active_flows));
  out.push_back(std::move(active));

  auto evictions = family("netring_flow_evictions_total", "Flows evicted from the flow tables", MetricType::Counter);
  add(evictions, {}, d(st.flow_evictions));
  out.push_back(std::move(evictions));

  auto backend = family("netring_capture_backend_info", "Capture backend in use and why it was chosen (always 1)",
                        MetricType::Gauge);
  if (!st.backend.empty())
    add(backend, {{"backend", st.backend}, {"reason", st.backend_reason.empty() ? "preferred" : st.backend_reason}}, 1);
  out.push_back(std::move(backend));

  auto fallback = family("netring_fallback_info", "Fallbacks taken at start (always 1)", MetricType::Gauge);
  for (const FallbackTaken& f : st.fallbacks)
    add(fallback, {{"what", f.what}, {"chosen", f.chosen}, {"reason", f.reason}}, 1);
  out.push_back(std::move(fallback));

  auto features =
      family("netring_kernel_feature", "Kernel features found at start (1 available, 0 not)", MetricType::Gauge);
  for (const auto& [name, available] : st.kernel_features) add(features, {{"feature", name}}, available ? 1 : 0);
  out.push_back(std::move(features));

  auto ready = family("netring_ready", "1 once the data path is hooked and delivering samples", MetricType::Gauge);
  add(ready, {}, st.ready ? 1 : 0);
  out.push_back(std::move(ready));

  auto w_up =
      family("netring_kubernetes_watch_up", "1 while the watch of a resource kind is connected", MetricType::Gauge);
  auto w_synced = family("netring_kubernetes_watch_synced", "1 once the initial list of a resource kind is done",
                         MetricType::Gauge);
  auto w_last = family("netring_kubernetes_watch_last_event_timestamp_seconds",
                       "Time of the last event received on a watch (0: none yet)", MetricType::Gauge);
  auto w_restarts = family("netring_kubernetes_watch_restarts_total", "Watch reconnections", MetricType::Counter);
  auto w_relists = family("netring_kubernetes_watch_relists_total",
                          "Full relists (410 Gone or a broken resourceVersion)", MetricType::Counter);
  auto w_errors = family("netring_kubernetes_watch_errors_total", "Watch errors", MetricType::Counter);
  for (const WatchHealth& w : st.watches) {
    std::vector<ClientMetric::Label> l{{"resource", w.resource}};
    add(w_up, l, w.connected ? 1 : 0);
    add(w_synced, l, w.synced ? 1 : 0);
    add(w_last, l, static_cast<double>(w.last_event_ns) / 1e9);
    add(w_restarts, l, d(w.restarts));
    add(w_relists, l, d(w.relists));
    add(w_errors, l, d(w.errors));
  }
  for (auto* f : {&w_up, &w_synced, &w_last, &w_restarts, &w_relists, &w_errors}) out.push_back(std::move(*f));

  const KubeIndexCounts& ix = st.kube_index;
  auto ix_objects =
      family("netring_kubernetes_index_objects",
             "Objects the identity index holds, by kind (pods_in_grace: deleted, still resolvable)", MetricType::Gauge);
  for (const auto& [kind, n] : {std::pair<const char*, std::uint64_t>{"pods", ix.pods},
                                {"pods_in_grace", ix.pods_in_grace},
                                {"services", ix.services},
                                {"nodes", ix.nodes},
                                {"endpointslices", ix.endpoint_slices},
                                {"remote_pods", ix.remote_pods}})
    add(ix_objects, {{"kind", kind}}, d(n));
  out.push_back(std::move(ix_objects));
  auto ix_ips =
      family("netring_kubernetes_index_addresses", "Addresses the identity index resolves", MetricType::Gauge);
  add(ix_ips, {}, d(ix.ips));
  out.push_back(std::move(ix_ips));
  auto ix_refused = family("netring_kubernetes_index_refused_total",
                           "Objects not stored because the index's cap was reached", MetricType::Counter);
  add(ix_refused, {}, d(ix.refused));
  out.push_back(std::move(ix_refused));
  auto ix_evicted = family("netring_kubernetes_index_evicted_total",
                           "Deleted pods dropped before their grace period ended, to make room", MetricType::Counter);
  add(ix_evicted, {}, d(ix.evicted));
  out.push_back(std::move(ix_evicted));

  // IPFIX flow export (only when it is configured).
  const FlowExportStatus& x = st.flow_export;
  if (x.enabled) {
    const std::vector<ClientMetric::Label> l{{"collector", x.collector}, {"transport", x.transport}};
    auto with = [&l](const char* k, const char* v) {
      auto out = l;
      out.push_back({k, v});
      return out;
    };
    auto messages = family("netring_flow_export_messages_total", "IPFIX messages sent", MetricType::Counter);
    add(messages, l, d(x.messages_sent));
    auto records = family("netring_flow_export_records_total", "IPFIX flow records sent", MetricType::Counter);
    add(records, l, d(x.records_sent));
    auto bytes = family("netring_flow_export_bytes_total", "IPFIX bytes sent", MetricType::Counter);
    add(bytes, l, d(x.bytes_sent));
    auto templates = family("netring_flow_export_template_messages_total", "IPFIX messages that carried the templates",
                            MetricType::Counter);
    add(templates, l, d(x.template_messages));
    auto errors =
        family("netring_flow_export_send_errors_total", "IPFIX messages the kernel did not send", MetricType::Counter);
    add(errors, l, d(x.send_errors));
    auto lost =
        family("netring_flow_export_records_lost_total", "Flow records not exported, by reason", MetricType::Counter);
    add(lost, with("reason", "send_failed"), d(x.records_send_failed));
    add(lost, with("reason", "unreachable"), d(x.records_unreachable));
    add(lost, with("reason", "queue_full"), d(x.records_queue_full));
    add(lost, with("reason", "too_large"), d(x.records_too_large));
    auto reconnects = family("netring_flow_export_reconnects_total",
                             "TCP connections to the collector established again after one broke or was refused",
                             MetricType::Counter);
    add(reconnects, l, d(x.reconnects));
    auto unacked = family("netring_flow_export_unacked_bytes_lost_total",
                          "TCP: bytes the collector had not acknowledged when a connection broke", MetricType::Counter);
    add(unacked, l, d(x.unacked_bytes_lost));
    auto up = family("netring_flow_export_connected",
                     "1 while the exporter has a socket (TCP: a connection) to the collector", MetricType::Gauge);
    add(up, l, x.connected ? 1 : 0);
    for (auto* f : {&messages, &records, &bytes, &templates, &errors, &lost, &reconnects, &unacked, &up})
      out.push_back(std::move(*f));
  }
  return out;
}

}  // namespace netring::agent::metrics
