#include "agent/api/json_views.hpp"

#include <netinet/in.h>

#include "agent/api/api_error.hpp"

namespace netring::agent::api {
namespace {

nlohmann::json endpoint(const IpAddress& ip, std::uint16_t port, const Identity& id) {
  return {{"ip", ip.str()},          {"port", port},    {"node", id.node}, {"namespace", id.ns},
          {"workload", id.workload}, {"kind", id.kind}, {"pod", id.pod},   {"service", id.service}};
}

nlohmann::json memory_json(const AgentStatus& s) {
  std::uint64_t table = 0, umem = 0;
  for (auto b : s.flow_table_bytes) table += b;
  for (auto b : s.umem_bytes) umem += b;
  return {{"flow_table_bytes", table},
          {"flow_table_bytes_per_worker", s.flow_table_bytes},
          {"umem_bytes", umem},
          {"umem_bytes_per_worker", s.umem_bytes}};
}

}  // namespace

nlohmann::json tcp_flag_names(std::uint8_t flags) {
  static constexpr const char* kNames[8] = {"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"};
  nlohmann::json out = nlohmann::json::array();
  for (int i = 0; i < 8; ++i)
    if (flags & (1u << i)) out.push_back(kNames[i]);
  return out;
}

nlohmann::json to_json(const FlowView& f) {
  // 99% normal interval of the bytes estimate (z = 2.576), clipped at 0.
  const double half = 2.576 * f.bytes_stderr;
  nlohmann::json j{{"id", f.id},
                   {"src", endpoint(f.src, f.src_port, f.src_id)},
                   {"dst", endpoint(f.dst, f.dst_port, f.dst_id)},
                   {"protocol", protocol_name(f.protocol)},
                   {"direction", to_string(f.direction)},
                   {"reporter", to_string(f.reporter)},
                   {"packets", f.packets},
                   {"bytes", f.bytes},
                   {"wire_bytes", f.wire_bytes},
                   {"exact", f.bytes_stderr == 0},
                   {"bytes_stderr", f.bytes_stderr},
                   {"bytes_ci99", {f.bytes - half < 0 ? 0.0 : f.bytes - half, f.bytes + half}},
                   {"samples", f.samples},
                   {"first_seen", format_time_ns(f.first_seen_ns)},
                   {"last_seen", format_time_ns(f.last_seen_ns)},
                   {"interfaces", f.interfaces ? nlohmann::json(*f.interfaces) : nlohmann::json::array()}};
  if (f.protocol == IPPROTO_TCP) j["tcp_flags"] = tcp_flag_names(f.tcp_flags);
  if (f.protocol == IPPROTO_ICMP || f.protocol == IPPROTO_ICMPV6)
    j["icmp"] = {{"type", f.icmp_type}, {"code", f.icmp_code}};
  if (f.overflow) j["overflow"] = true;
  return j;
}

nlohmann::json to_json(const InterfaceCounters& i) {
  return {{"ifindex", i.ifindex},
          {"name", i.name},
          {"role", i.role},
          {"backend", i.backend},
          {"hook", i.hook},
          {"rx_packets", i.rx_packets},
          {"rx_bytes", i.rx_bytes},
          {"rx_wire_bytes", i.rx_wire_bytes},
          {"tx_packets", i.tx_packets},
          {"tx_bytes", i.tx_bytes},
          {"tx_wire_bytes", i.tx_wire_bytes}};
}

nlohmann::json to_json(const AgentStatus& s) {
  nlohmann::json fallbacks = nlohmann::json::array();
  for (const auto& f : s.fallbacks) fallbacks.push_back({{"what", f.what}, {"chosen", f.chosen}, {"reason", f.reason}});
  nlohmann::json losses = nlohmann::json::array();
  std::uint64_t lost = 0;
  for (const auto& l : s.losses) {
    losses.push_back({{"stage", l.stage}, {"reason", l.reason}, {"count", l.count}, {"in_total", l.in_total}});
    if (l.in_total) lost += l.count;
  }
  nlohmann::json watches = nlohmann::json::array();
  for (const auto& w : s.watches)
    watches.push_back({{"resource", w.resource},
                       {"connected", w.connected},
                       {"synced", w.synced},
                       {"last_event", w.last_event_ns ? nlohmann::json(format_time_ns(w.last_event_ns)) : nullptr},
                       {"restarts", w.restarts},
                       {"relists", w.relists},
                       {"errors", w.errors}});
  const FlowExportStatus& x = s.flow_export;
  nlohmann::json flow_export = {{"enabled", x.enabled}};
  if (x.enabled)
    flow_export.update(
        {{"collector", x.collector},
         {"transport", x.transport},
         {"connected", x.connected},
         {"messages", x.messages_sent},
         {"records", x.records_sent},
         {"bytes", x.bytes_sent},
         {"template_messages", x.template_messages},
         {"send_errors", x.send_errors},
         {"records_lost",
          {{"send_failed", x.records_send_failed},
           {"unreachable", x.records_unreachable},
           {"queue_full", x.records_queue_full},
           {"too_large", x.records_too_large}}},
         {"connects", x.connects},
         {"reconnects", x.reconnects},
         {"unacked_bytes_lost", x.unacked_bytes_lost},
         {"last_error", x.last_error},
         {"last_error_time", x.last_error_ns ? nlohmann::json(format_time_ns(x.last_error_ns)) : nullptr}});
  return {{"version", s.version},
          {"node", s.node},
          {"started", s.started_ns ? nlohmann::json(format_time_ns(s.started_ns)) : nullptr},
          {"ready", s.ready},
          {"backend", {{"name", s.backend}, {"reason", s.backend_reason}}},
          {"kernel_features", s.kernel_features},
          {"fallbacks", fallbacks},
          {"samples", {{"received", s.samples_received}, {"lost", lost}, {"lost_by_reason", losses}}},
          {"parse_errors", s.parse_errors},
          {"flows", {{"active", s.active_flows}, {"evictions", s.flow_evictions}}},
          {"exact_flows",
           {{"mode", s.exact_flows.mode},
            {"counted_skbs", s.exact_flows.counted_skbs},
            {"uncounted_skbs", s.exact_flows.uncounted},
            {"drains", s.exact_flows.drains},
            {"flows_last_drain", s.exact_flows.flows_last_drain},
            {"last_drain_ms", static_cast<double>(s.exact_flows.last_drain_ns) / 1e6},
            {"drain_errors", s.exact_flows.drain_errors}}},
          {"memory", memory_json(s)},
          {"kubernetes", watches},
          {"flow_export", flow_export}};
}

}  // namespace netring::agent::api
