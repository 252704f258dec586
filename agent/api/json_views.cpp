#include "agent/api/json_views.hpp"

#include <netinet/in.h>

#include "agent/api/api_error.hpp"
#include "pkg/dns/message.hpp"

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

// Losses as a list, and the number counted once (entries with in_total).
std::pair<nlohmann::json, std::uint64_t> losses_json(const std::vector<LossCounter>& losses) {
  nlohmann::json out = nlohmann::json::array();
  std::uint64_t lost = 0;
  for (const auto& l : losses) {
    out.push_back({{"stage", l.stage}, {"reason", l.reason}, {"count", l.count}, {"in_total", l.in_total}});
    if (l.in_total) lost += l.count;
  }
  return {std::move(out), lost};
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
  if (f.protocol == IPPROTO_TCP) {
    j["tcp_flags"] = tcp_flag_names(f.tcp_flags);
    j["tcp_retransmits"] = f.tcp_retransmits;
    if (f.tcp_srtt_us != 0) j["tcp_srtt_ms"] = static_cast<double>(f.tcp_srtt_us) / 1e3;
  }
  if (f.protocol == IPPROTO_ICMP || f.protocol == IPPROTO_ICMPV6)
    j["icmp"] = {{"type", f.icmp_type}, {"code", f.icmp_code}};
  if (f.overflow) j["overflow"] = true;
  if (const TcpHandshakeView* hp = f.handshake()) {
    const TcpHandshakeView& h = *hp;
    auto ms = [](std::uint64_t ns) {
      return ns == 0 ? nlohmann::json(nullptr) : nlohmann::json(static_cast<double>(ns) / 1e6);
    };
    j["handshake"] = {{"client", h.client_is_src ? "src" : "dst"},
                      {"established", h.established},
                      {"syn_to_synack_ms", ms(h.syn_to_synack_ns)},
                      {"synack_to_ack_ms", ms(h.synack_to_ack_ns)},
                      {"syns", h.syns},
                      {"reset_by", h.reset_by},
                      {"fin_by", h.fin_by}};
  }
  if (const FlowDnsView* dp = f.dns()) {
    const FlowDnsView& d = *dp;
    j["dns"] = {{"exchanges", d.exchanges},
                {"answered", d.answered},
                {"timeouts", d.timeouts},
                {"unmatched_responses", d.unmatched},
                {"queries", d.queries},
                {"rcodes", d.rcodes},
                {"last_qname", d.last_qname},
                {"last_latency_ms",
                 d.answered ? nlohmann::json(static_cast<double>(d.last_latency_ns) / 1e6) : nlohmann::json(nullptr)},
                {"max_latency_ms",
                 d.answered ? nlohmann::json(static_cast<double>(d.max_latency_ns) / 1e6) : nlohmann::json(nullptr)}};
  }
  return j;
}

nlohmann::json to_json(const DnsRecord& d) {
  const FlowView& f = d.flow;
  nlohmann::json j{
      {"seq", d.seq},
      {"client", endpoint(f.src, f.src_port, f.src_id)},
      {"server", endpoint(f.dst, f.dst_port, f.dst_id)},
      {"protocol", protocol_name(f.protocol)},
      {"outcome", d.outcome},
      {"qname", d.qname},
      {"qtype", d.qtype},
      {"rcode",
       d.rcode >= 0 ? nlohmann::json(dns::rcode_name(static_cast<std::uint8_t>(d.rcode))) : nlohmann::json(nullptr)},
      {"query_time", d.query_ns ? nlohmann::json(format_time_ns(d.query_ns)) : nullptr},
      {"response_time", d.response_ns ? nlohmann::json(format_time_ns(d.response_ns)) : nullptr},
      {"latency_ms", d.outcome == std::string_view("answered") ? nlohmann::json(static_cast<double>(d.latency_ns) / 1e6)
                                                               : nlohmann::json(nullptr)},
      {"queries", d.queries}};
  if (const char* t = dns::qtype_name(d.qtype)) j["qtype_name"] = t;
  if (d.responder != IpAddress{}) j["responder"] = d.responder.str();
  return j;
}

nlohmann::json to_json(const DropView& d) {
  nlohmann::json j{{"time", format_time_ns(d.time_ns)},
                   {"reason", d.reason},
                   {"bytes", d.bytes},
                   {"ifindex", d.ifindex},
                   {"interface", d.interface}};
  if (!d.has_flow) {
    j["flow"] = nullptr;
    return j;
  }
  j["src"] = endpoint(d.src, d.src_port, d.src_id);
  j["dst"] = endpoint(d.dst, d.dst_port, d.dst_id);
  j["protocol"] = protocol_name(d.protocol);
  if (d.protocol == IPPROTO_ICMP || d.protocol == IPPROTO_ICMPV6)
    j["icmp"] = {{"type", d.icmp_type}, {"code", d.icmp_code}};
  return j;
}

nlohmann::json to_json(const InterfaceCounters& i) {
  nlohmann::json j{{"ifindex", i.ifindex},
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
  if (i.capture) {
    const CapturePortState& c = *i.capture;
    auto [losses, lost] = losses_json(c.losses);
    j["capture"] = {{"xdp_mode", c.xdp_mode.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.xdp_mode)},
                    {"reason", c.reason},
                    {"queues", c.queues},
                    {"zero_copy", c.zero_copy},
                    {"sample_rate", c.sample_rate},
                    {"sampled", c.sampled},
                    {"sampled_out", c.sampled_out},
                    {"lost", lost},
                    {"lost_by_reason", losses}};
  }
  return j;
}

nlohmann::json to_json(const AgentStatus& s) {
  nlohmann::json fallbacks = nlohmann::json::array();
  for (const auto& f : s.fallbacks) fallbacks.push_back({{"what", f.what}, {"chosen", f.chosen}, {"reason", f.reason}});
  auto [losses, lost] = losses_json(s.losses);
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
            {"drain_errors", s.exact_flows.drain_errors},
            {"map_capacity", s.exact_flows.map_capacity},
            {"map_resizes", s.exact_flows.map_resizes}}},
          {"copy_budget",
           {{"per_cpu_per_second", s.copy_budget.budget},
            {"max_scale", s.copy_budget.max_scale},
            {"cpus_scaled", s.copy_budget.cpus_scaled},
            {"raises", s.copy_budget.raises},
            {"scaled_copies", s.copy_budget.scaled_copies},
            {"unseen_rate", s.copy_budget.unseen_rate}}},
          {"memory", memory_json(s)},
          {"kubernetes", watches},
          {"kubernetes_index",
           {{"pods", s.kube_index.pods},
            {"pods_in_grace", s.kube_index.pods_in_grace},
            {"services", s.kube_index.services},
            {"nodes", s.kube_index.nodes},
            {"endpoint_slices", s.kube_index.endpoint_slices},
            {"remote_pods", s.kube_index.remote_pods},
            {"ips", s.kube_index.ips},
            {"refused", s.kube_index.refused},
            {"evicted", s.kube_index.evicted}}},
          {"flow_export", flow_export},
          {"kernel_events", to_json(s.kernel_events)},
          {"dns",
           {{"enabled", s.control.dns},
            {"queries", s.control.dns_queries},
            {"responses", s.control.dns_responses},
            {"answered", s.control.dns_answered},
            {"timeouts", s.control.dns_timeouts},
            {"unmatched_responses", s.control.dns_unmatched},
            {"retries", s.control.dns_retries},
            {"pending", s.control.dns_pending},
            {"table_full", s.control.dns_table_full},
            {"malformed", s.control.dns_malformed},
            {"events_dropped", s.control.dns_events_dropped}}},
          {"tcp_handshake",
           {{"enabled", s.control.tcp_handshake},
            {"attempts", s.control.tcp_attempts},
            {"established", s.control.tcp_established},
            {"resets", s.control.tcp_resets},
            {"syn_retransmits", s.control.tcp_syn_retransmits},
            {"tracked", s.control.tcp_tracked},
            {"table_full", s.control.tcp_table_full},
            {"events_dropped", s.control.tcp_events_dropped}}},
          {"forced_copies", s.control.forced_copies}};
}

nlohmann::json to_json(const KernelEventStatus& k) {
  return {{"drops",
           {{"enabled", k.drops},
            {"reason", k.drops_reason},
            {"program", k.drops_program},
            {"by_reason", k.drops_by_reason},
            {"unattributed", k.drops_unattributed},
            {"map_full", k.drops_map_full},
            {"storm_sampled", k.drops_storm_sampled},
            {"details", k.drop_details},
            {"details_suppressed", k.drop_details_suppressed},
            {"details_lost", k.drop_details_lost}}},
          {"tcp_retransmits",
           {{"enabled", k.tcp_retransmits},
            {"reason", k.tcp_retransmits_reason},
            {"program", k.tcp_retransmits_program},
            {"segments", k.tcp_retransmit_segments},
            {"map_full", k.tcp_retransmits_map_full},
            {"map_busy", k.tcp_retransmits_map_busy},
            {"missed", k.tcp_retransmits_missed},
            {"not_sent", k.tcp_retransmits_not_sent}}},
          {"drain_errors", k.drain_errors}};
}

}  // namespace netring::agent::api
