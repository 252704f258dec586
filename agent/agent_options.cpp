#include "agent/agent_options.hpp"

#include <unistd.h>

#include <algorithm>

namespace netring::agent {

namespace {

datapath::CaptureXdpMode to_datapath(CaptureXdpMode m) {
  switch (m) {
    case CaptureXdpMode::kNative: return datapath::CaptureXdpMode::kNative;
    case CaptureXdpMode::kGeneric: return datapath::CaptureXdpMode::kGeneric;
    case CaptureXdpMode::kAuto: break;
  }
  return datapath::CaptureXdpMode::kAuto;
}

datapath::ExactFlows to_datapath(ExactFlows e) {
  switch (e) {
    case ExactFlows::kBulk: return datapath::ExactFlows::kBulk;
    case ExactFlows::kAll: return datapath::ExactFlows::kAll;
    case ExactFlows::kOff: break;
  }
  return datapath::ExactFlows::kOff;
}

// The parser's port slots from --tunnel-ports (config.cpp checked that they fit).
template <std::size_t N>
std::array<std::uint16_t, N> slots(const std::vector<std::uint16_t>& ports) {
  std::array<std::uint16_t, N> out{};
  for (std::size_t i = 0; i < std::min(N, ports.size()); ++i) out[i] = ports[i];
  return out;
}

}  // namespace

Result<AgentOptions> agent_options(const Config& c) {
  AgentOptions o;
  o.datapath.workers = c.workers;
  o.datapath.programs.snap_len = c.snap_len;
  o.datapath.programs.tunnel_udp_ports = c.tunnel_ports;
  if (c.backend == Backend::kAfpacket) o.datapath.highest_rung = datapath::Rung::kAfPacketMirror;
  o.datapath.programs.exact_flows = to_datapath(c.exact_flows);
  o.datapath.programs.copy_dns = c.dns;
  o.datapath.programs.dns_ports = c.dns_ports;
  o.datapath.programs.copy_tcp_control = c.tcp_handshake;
  o.datapath.programs.copy_budget = c.copy_budget;
  o.publisher.copy_budget = c.copy_budget;
  // The kernel holds the flows active within one publication period; the
  // tables hold every flow the agent keeps, so that bounds it too. Its maps
  // start at kFlowMapStart flows a period and grow to that bound with the
  // traffic (kflow::FlowCountReader says why).
  constexpr std::uint32_t kFlowMapStart = 16384;
  o.flow_map_sizing.max_entries = static_cast<std::uint32_t>(std::min<std::uint64_t>(c.flow_table_size, 1u << 22));
  o.flow_map_sizing.min_entries = std::min(kFlowMapStart, o.flow_map_sizing.max_entries);
  o.datapath.programs.flow_map_entries = o.flow_map_sizing.min_entries;
  o.capture.direct_sample_rate = c.sample_rate;
  o.hook_rate = c.sample_rate;

  // The tables hold --flow-table-size flows: their byte budget follows from
  // that (the table's own default budget would cap one near 380k flows).
  o.worker.table.max_flows = c.flow_table_size;
  o.worker.table.max_bytes = std::size_t{1} << 40;
  o.worker.table.idle_timeout_ns = static_cast<std::uint64_t>(c.flow_idle_timeout.count()) * 1'000'000;
  o.worker.table.active_timeout_ns = static_cast<std::uint64_t>(c.flow_active_timeout.count()) * 1'000'000;
  o.worker.parser.vxlan_ports = slots<4>(tunnel_parser_ports(c.tunnel_ports, false));
  o.worker.parser.geneve_ports = slots<4>(tunnel_parser_ports(c.tunnel_ports, true));
  // The capture ports' workers keep the default: their frames are not
  // budgeted (every frame at --capture-sample-rate).
  o.capture_ports.worker = o.worker;
  // Every CPU samples; a flow's copies go to queue hash % workers.
  const auto cpus = static_cast<std::uint32_t>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
  o.worker.max_nap = nap_ceiling(c.sample_rate, o.capture.ring_size, (cpus + c.workers - 1) / c.workers);

  o.capture_ports_enabled = !c.capture_ports.empty();
  // DNS and handshakes are matched from the sampler's forced copies, which a
  // capture port (sampled at --capture-sample-rate by its XDP program) has not.
  o.worker.control.dns = c.dns;
  o.worker.control.dns_ports = c.dns_ports;
  o.worker.control.tcp_handshake = c.tcp_handshake;
  o.capture_ports.port.snap_len = c.snap_len;
  o.capture_ports.port.sample_rate = c.capture_sample_rate;
  o.capture_ports.port.xdp_mode = to_datapath(c.capture_xdp_mode);

  o.discovery.include = c.interfaces_include;
  o.discovery.exclude = c.interfaces_exclude;
  o.discovery.physical_interfaces = c.physical_interfaces;
  o.discovery.capture_ports = c.capture_ports;

  o.flow_metrics.level = c.label_level;
  o.flow_metrics.max_series = c.max_series;
  o.flow_metrics.pod_grace_period = c.pod_grace_period;
  o.flow_metrics.dns_qname_label = c.dns_qname_label;

  auto m = http::parse_listen_address(c.metrics_listen.str());
  if (!m) return Error("--metrics-listen", m.error().code(), m.error().message());
  o.metrics_listen = *m;
  auto a = http::parse_listen_address(c.api_listen.str());
  if (!a) return Error("--api-listen", a.error().code(), a.error().message());
  o.api.listen = *a;
  o.api.capture.enabled = c.enable_capture_api;
  o.api.capture.max_duration = c.capture_max_duration;
  o.api.capture.max_packets = c.capture_max_packets;
  o.api.capture.snap_len = c.snap_len;

  o.publisher.node_name = c.node_name;
  o.publisher.sample_rate = c.sample_rate;
  o.publisher.capture_sample_rate = c.capture_sample_rate;
  o.publisher.unseen_window = c.flow_active_timeout + std::chrono::seconds(10);
  o.publisher.exact_flows = o.datapath.programs.exact_flows;  // kOff when the data path has no sampler
  o.publisher.control.dns = c.dns;
  o.publisher.control.tcp_handshake = c.tcp_handshake;
  o.publisher.control.dns_timeout_ns = static_cast<std::uint64_t>(c.dns_timeout.count()) * 1'000'000;
  return o;
}

WorkerOptions for_workers(const WorkerOptions& group, std::size_t workers) {
  WorkerOptions o = group;
  if (workers > 1) o.table.max_flows = std::max<std::size_t>(1024, group.table.max_flows / workers);
  return o;
}

}  // namespace netring::agent
