#include "agent/config.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "pkg/datapath/datapath.hpp"

namespace netring::agent {
namespace {

using std::chrono::milliseconds;
using json = nlohmann::json;

enum class Kind { kPath, kString, kUint, kEnum, kRegex, kIfList, kPortList, kDuration, kHostPort, kBool, kWordList };

// A value parsed according to its field's kind; only the member for that kind is set.
struct Value {
  std::string text;
  uint64_t u = 0;
  size_t choice = 0;
  bool b = false;
  milliseconds d{0};
  std::vector<std::string> list;
  std::vector<uint16_t> ports;
  HostPort hp;
};

struct FieldDesc {
  const char* name;  // the flag without dashes; also the config-file key
  Kind kind;
  const char* default_text;          // parsed like any other value, so defaults pass the same checks
  std::vector<const char*> choices;  // kEnum
  uint64_t min = 0, max = 0;         // kUint; kDuration in milliseconds
  const char* help;
  void (*set)(Config&, const Value&);
  json (*get)(const Config&);
};

constexpr uint64_t kMsPerHour = 3'600'000;

std::string dur_str(milliseconds d) {
  auto ms = static_cast<uint64_t>(d.count());
  if (ms % kMsPerHour == 0 && ms != 0) return std::to_string(ms / kMsPerHour) + "h";
  if (ms % 60'000 == 0 && ms != 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

const std::vector<FieldDesc>& schema() {
  static const std::vector<FieldDesc> kSchema = {
      {"config",
       Kind::kPath,
       "",
       {},
       0,
       0,
       "JSON config file; keys are the flag names without dashes",
       [](Config& c, const Value& v) { c.config_file = v.text; },
       [](const Config& c) { return json(c.config_file); }},
      {"node-name",
       Kind::kString,
       "",
       {},
       0,
       0,
       "node this agent reports for (default: $NODE_NAME, else the host name)",
       [](Config& c, const Value& v) { c.node_name = v.text; },
       [](const Config& c) { return json(c.node_name); }},
      {"sample-rate",
       Kind::kUint,
       "100",
       {},
       0,
       16777216,
       "1-in-N copies of packets for their headers (p = 1/N per skb where --exact-flows counted the packet, "
       "min(1, gso_segs/N) where the copy must stand for it in the estimates); 0 = count only",
       [](Config& c, const Value& v) { c.sample_rate = static_cast<uint32_t>(v.u); },
       [](const Config& c) { return json(c.sample_rate); }},
      {"copy-budget",
       Kind::kUint,
       "2000",
       {},
       0,
       100'000'000,
       "copies drawn a second per CPU beyond which that CPU draws at a proportionally lower rate (N times a "
       "scale it adapts every 100 ms; each copy carries the rate it was drawn at, so estimates stay unbiased; "
       "--sample-rate=1 and always-copied DNS/TCP control packets are never scaled); 0 = a fixed 1:N",
       [](Config& c, const Value& v) { c.copy_budget = static_cast<uint32_t>(v.u); },
       [](const Config& c) { return json(c.copy_budget); }},
      {"exact-flows",
       Kind::kEnum,
       "bulk",
       {"off", "bulk", "all"},
       0,
       0,
       "which packets the kernel counts per flow exactly (the rest is estimated from copies): bulk = skbs of "
       "several segments (GSO/GRO: most bytes, few skbs), all = every packet, off = none",
       [](Config& c, const Value& v) { c.exact_flows = static_cast<ExactFlows>(v.choice); },
       [](const Config& c) { return json(to_string(c.exact_flows)); }},
      {"drops",
       Kind::kEnum,
       "on",
       {"off", "on"},
       0,
       0,
       "packet drops from the kernel (skb:kfree_skb, with the kernel's drop reason), counted in the kernel by "
       "flow and reason: netring_drops_total and /api/v1/drops",
       [](Config& c, const Value& v) { c.drops = v.choice == 1; },
       [](const Config& c) { return json(c.drops ? "on" : "off"); }},
      {"tcp-retransmits",
       Kind::kEnum,
       "on",
       {"off", "on"},
       0,
       0,
       "TCP segments retransmitted by this node's sockets (tcp:tcp_retransmit_skb), counted in the kernel by "
       "flow: netring_tcp_retransmits_total and the flows' tcp_retransmits",
       [](Config& c, const Value& v) { c.tcp_retransmits = v.choice == 1; },
       [](const Config& c) { return json(c.tcp_retransmits ? "on" : "off"); }},
      {"backend",
       Kind::kEnum,
       "auto",
       {"auto", "afxdp", "afpacket"},
       0,
       0,
       "capture backend on the mirror (auto: AF_XDP, falling back to AF_PACKET; afpacket costs pods less at high "
       "rates: the socket truncates samples)",
       [](Config& c, const Value& v) { c.backend = static_cast<Backend>(v.choice); },
       [](const Config& c) { return json(to_string(c.backend)); }},
      {"workers",
       Kind::kUint,
       "1",
       {},
       1,
       64,
       "capture workers (= mirror queues)",
       [](Config& c, const Value& v) { c.workers = static_cast<uint32_t>(v.u); },
       [](const Config& c) { return json(c.workers); }},
      {"snap-len",
       Kind::kUint,
       "128",
       {},
       64,
       65535,
       "bytes kept per sample",
       [](Config& c, const Value& v) { c.snap_len = static_cast<uint32_t>(v.u); },
       [](const Config& c) { return json(c.snap_len); }},
      {"interfaces-include",
       Kind::kRegex,
       "",
       {},
       0,
       0,
       "extra interfaces to hook (overrides discovery)",
       [](Config& c, const Value& v) { c.interfaces_include = v.text; },
       [](const Config& c) { return json(c.interfaces_include); }},
      {"interfaces-exclude",
       Kind::kRegex,
       "",
       {},
       0,
       0,
       "interfaces never hooked (overrides discovery)",
       [](Config& c, const Value& v) { c.interfaces_exclude = v.text; },
       [](const Config& c) { return json(c.interfaces_exclude); }},
      {"physical-interfaces",
       Kind::kIfList,
       "",
       {},
       0,
       0,
       "node NICs to hook (default: the devices of the default routes)",
       [](Config& c, const Value& v) { c.physical_interfaces = v.list; },
       [](const Config& c) { return json(c.physical_interfaces); }},
      {"capture-ports",
       Kind::kIfList,
       "",
       {},
       0,
       0,
       "interfaces carrying only mirrored copies (SPAN/TAP): the XSKMAP redirect program on each, one AF_XDP "
       "socket per RX queue (TPACKET_V3 with fanout where XDP cannot be attached); never sampled by the TC "
       "sampler; flows reported as reporter \"capture\"",
       [](Config& c, const Value& v) { c.capture_ports = v.list; },
       [](const Config& c) { return json(c.capture_ports); }},
      {"capture-sample-rate",
       Kind::kUint,
       "1",
       {},
       1,
       16777216,
       "1-in-N frames of each capture port go to the flow tables (1: every frame); every frame is counted",
       [](Config& c, const Value& v) { c.capture_sample_rate = static_cast<uint32_t>(v.u); },
       [](const Config& c) { return json(c.capture_sample_rate); }},
      {"capture-xdp-mode",
       Kind::kEnum,
       "auto",
       {"auto", "native", "generic"},
       0,
       0,
       "XDP on capture ports: auto (native where the driver has it, else generic), native (else TPACKET_V3), "
       "generic",
       [](Config& c, const Value& v) { c.capture_xdp_mode = static_cast<CaptureXdpMode>(v.choice); },
       [](const Config& c) { return json(to_string(c.capture_xdp_mode)); }},
      {"tunnel-ports",
       Kind::kPortList,
       "4789,8472,6081,51820",
       {},
       1,
       65535,
       "UDP ports of encapsulations not sampled on NIC egress (their inner packets were sampled at the pod veth); "
       "the parser decapsulates 6081 as Geneve, 51820 (WireGuard) not at all, any other as VXLAN",
       [](Config& c, const Value& v) { c.tunnel_ports = v.ports; },
       [](const Config& c) { return json(c.tunnel_ports); }},
      {"dns",
       Kind::kEnum,
       "on",
       {"off", "on"},
       0,
       0,
       "copy every DNS message (TCP and UDP, --dns-ports) whatever the sample rate, match queries to responses "
       "and count them by workload: netring_dns_* metrics, /api/v1/dns",
       [](Config& c, const Value& v) { c.dns = v.choice == 1; },
       [](const Config& c) { return json(c.dns ? "on" : "off"); }},
      {"dns-ports",
       Kind::kPortList,
       "53",
       {},
       1,
       65535,
       "ports whose TCP and UDP packets (either direction) are DNS",
       [](Config& c, const Value& v) { c.dns_ports = v.ports; },
       [](const Config& c) { return json(c.dns_ports); }},
      {"dns-timeout",
       Kind::kDuration,
       "5s",
       {},
       100,
       60'000,
       "a DNS query without a response for this long is counted as a timeout",
       [](Config& c, const Value& v) { c.dns_timeout = v.d; },
       [](const Config& c) { return json(dur_str(c.dns_timeout)); }},
      {"dns-qname-label",
       Kind::kEnum,
       "off",
       {"off", "on"},
       0,
       0,
       "also label netring_dns_* metrics by query name (one series per name and workload pair, under "
       "--max-series): off keeps names out of metrics, /api/v1/dns has them either way",
       [](Config& c, const Value& v) { c.dns_qname_label = v.choice == 1; },
       [](const Config& c) { return json(c.dns_qname_label ? "on" : "off"); }},
      {"tcp-handshake",
       Kind::kEnum,
       "on",
       {"off", "on"},
       0,
       0,
       "copy every TCP SYN, FIN, RST and handshake ACK whatever the sample rate: connection attempts, "
       "establishments, resets and handshake round trips by workload (netring_tcp_* metrics, flows' handshake)",
       [](Config& c, const Value& v) { c.tcp_handshake = v.choice == 1; },
       [](const Config& c) { return json(c.tcp_handshake ? "on" : "off"); }},
      {"label-level",
       Kind::kEnum,
       "workload",
       {"node", "namespace", "workload", "pod"},
       0,
       0,
       "identity granularity of flow metrics",
       [](Config& c, const Value& v) { c.label_level = static_cast<LabelLevel>(v.choice); },
       [](const Config& c) { return json(to_string(c.label_level)); }},
      {"flow-table-size",
       Kind::kUint,
       "65536",
       {},
       1024,
       16777216,
       "flows the mirror's workers hold together (split evenly over them), and again each capture port's (split "
       "over its queues); at least 1024 per worker; also the most flows the kernel counts exactly in one period",
       [](Config& c, const Value& v) { c.flow_table_size = static_cast<uint32_t>(v.u); },
       [](const Config& c) { return json(c.flow_table_size); }},
      {"flow-idle-timeout",
       Kind::kDuration,
       "30s",
       {},
       1000,
       24 * kMsPerHour,
       "a flow without packets for this long ends",
       [](Config& c, const Value& v) { c.flow_idle_timeout = v.d; },
       [](const Config& c) { return json(dur_str(c.flow_idle_timeout)); }},
      {"flow-active-timeout",
       Kind::kDuration,
       "120s",
       {},
       1000,
       24 * kMsPerHour,
       "a long-lived flow is reported and restarted after this long",
       [](Config& c, const Value& v) { c.flow_active_timeout = v.d; },
       [](const Config& c) { return json(dur_str(c.flow_active_timeout)); }},
      {"metrics-listen",
       Kind::kHostPort,
       "0.0.0.0:9990",
       {},
       0,
       0,
       "Prometheus /metrics, /healthz, /readyz",
       [](Config& c, const Value& v) { c.metrics_listen = v.hp; },
       [](const Config& c) { return json(c.metrics_listen.str()); }},
      {"api-listen",
       Kind::kHostPort,
       "127.0.0.1:9991",
       {},
       0,
       0,
       "flow JSON API (loopback by default: reached with kubectl port-forward)",
       [](Config& c, const Value& v) { c.api_listen = v.hp; },
       [](const Config& c) { return json(c.api_listen.str()); }},
      {"max-series",
       Kind::kUint,
       "20000",
       {},
       0,
       4294967295ULL,
       "hard cap on flow metric series; excess is counted and dropped",
       [](Config& c, const Value& v) { c.max_series = v.u; },
       [](const Config& c) { return json(c.max_series); }},
      {"pod-grace-period",
       Kind::kDuration,
       "60s",
       {},
       0,
       24 * kMsPerHour,
       "series and names of deleted pods disappear after this",
       [](Config& c, const Value& v) { c.pod_grace_period = v.d; },
       [](const Config& c) { return json(dur_str(c.pod_grace_period)); }},
      {"enable-capture-api",
       Kind::kBool,
       "false",
       {},
       0,
       0,
       "serve /api/v1/capture (exposes payloads: off by default)",
       [](Config& c, const Value& v) { c.enable_capture_api = v.b; },
       [](const Config& c) { return json(c.enable_capture_api); }},
      {"capture-max-duration",
       Kind::kDuration,
       "60s",
       {},
       1000,
       24 * kMsPerHour,
       "longest on-demand capture",
       [](Config& c, const Value& v) { c.capture_max_duration = v.d; },
       [](const Config& c) { return json(dur_str(c.capture_max_duration)); }},
      {"capture-max-packets",
       Kind::kUint,
       "100000",
       {},
       1,
       4294967295ULL,
       "most packets in one on-demand capture",
       [](Config& c, const Value& v) { c.capture_max_packets = v.u; },
       [](const Config& c) { return json(c.capture_max_packets); }},
      // --- IPFIX flow export (agent/export, doc/ipfix.md) ---
      {"ipfix-collector",
       Kind::kHostPort,
       "",
       {},
       0,
       0,
       "IPFIX collector to export flows to (host:port; empty: no export)",
       [](Config& c, const Value& v) { c.ipfix_collector = v.hp; },
       [](const Config& c) { return json(c.ipfix_collector.host.empty() ? "" : c.ipfix_collector.str()); }},
      {"ipfix-transport",
       Kind::kEnum,
       "udp",
       {"udp", "tcp"},
       0,
       0,
       "IPFIX transport (tcp: templates once per connection, reconnects counted)",
       [](Config& c, const Value& v) { c.ipfix_transport = static_cast<IpfixTransport>(v.choice); },
       [](const Config& c) { return json(to_string(c.ipfix_transport)); }},
      {"ipfix-template-refresh",
       Kind::kDuration,
       "60s",
       {},
       1000,
       24 * kMsPerHour,
       "UDP: the templates are sent again after this long",
       [](Config& c, const Value& v) { c.ipfix_template_refresh = v.d; },
       [](const Config& c) { return json(dur_str(c.ipfix_template_refresh)); }},
      {"ipfix-template-refresh-messages",
       Kind::kUint,
       "0",
       {},
       0,
       4294967295ULL,
       "UDP: the templates are sent again after this many messages (0: by time only)",
       [](Config& c, const Value& v) { c.ipfix_template_refresh_messages = static_cast<uint32_t>(v.u); },
       [](const Config& c) { return json(c.ipfix_template_refresh_messages); }},
      {"ipfix-active-interval",
       Kind::kDuration,
       "60s",
       {},
       0,
       24 * kMsPerHour,
       "a flow that goes on is exported this often, its growth since the last record (0s: only when it ends)",
       [](Config& c, const Value& v) { c.ipfix_active_interval = v.d; },
       [](const Config& c) { return json(dur_str(c.ipfix_active_interval)); }},
      {"ipfix-observation-domain",
       Kind::kUint,
       "1",
       {},
       0,
       4294967295ULL,
       "Observation Domain ID in every IPFIX message header",
       [](Config& c, const Value& v) { c.ipfix_observation_domain = static_cast<uint32_t>(v.u); },
       [](const Config& c) { return json(c.ipfix_observation_domain); }},
      {"ipfix-enterprise-number",
       Kind::kUint,
       "32473",
       {},
       1,
       4294967295ULL,
       "Private Enterprise Number of netring's elements (Kubernetes names); collectors must use the same",
       [](Config& c, const Value& v) { c.ipfix_enterprise_number = static_cast<uint32_t>(v.u); },
       [](const Config& c) { return json(c.ipfix_enterprise_number); }},
      {"ipfix-fields",
       Kind::kWordList,
       "totals,interfaces,kubernetes,accuracy",
       {"totals", "interfaces", "kubernetes", "accuracy"},
       0,
       0,
       "optional parts of a flow record (the 5-tuple, counts, times, flags, direction, end reason and sampling "
       "probability are always there)",
       [](Config& c, const Value& v) { c.ipfix_fields = v.list; },
       [](const Config& c) { return json(c.ipfix_fields); }},
      {"ipfix-queue-size",
       Kind::kUint,
       "65536",
       {},
       1,
       16777216,
       "ended flows waiting for the exporter; more are dropped and counted",
       [](Config& c, const Value& v) { c.ipfix_queue_size = static_cast<uint32_t>(v.u); },
       [](const Config& c) { return json(c.ipfix_queue_size); }},
      {"ipfix-max-message-size",
       Kind::kUint,
       "1400",
       {},
       512,
       65507,
       "largest IPFIX message in bytes (UDP: one datagram, keep it under the path MTU)",
       [](Config& c, const Value& v) { c.ipfix_max_message_size = static_cast<uint32_t>(v.u); },
       [](const Config& c) { return json(c.ipfix_max_message_size); }},
      // --- end of IPFIX flow export ---
      {"kubeconfig",
       Kind::kPath,
       "",
       {},
       0,
       0,
       "kubeconfig for running outside the cluster (in-cluster config is used when KUBERNETES_SERVICE_HOST is set)",
       [](Config& c, const Value& v) { c.kubeconfig = v.text; },
       [](const Config& c) { return json(c.kubeconfig); }},
      {"kube-api",
       Kind::kEnum,
       "auto",
       {"auto", "off"},
       0,
       0,
       "off: no Kubernetes API (names only from --pods-from)",
       [](Config& c, const Value& v) { c.kube_api = static_cast<KubeApi>(v.choice); },
       [](const Config& c) { return json(to_string(c.kube_api)); }},
      {"pods-from",
       Kind::kPath,
       "",
       {},
       0,
       0,
       "Kubernetes PodList JSON (kubectl get pods -A -o json) instead of/in addition to the API",
       [](Config& c, const Value& v) { c.pods_from = v.text; },
       [](const Config& c) { return json(c.pods_from); }},
      {"kube-pods",
       Kind::kEnum,
       "node",
       {"node", "cluster"},
       0,
       0,
       "node: watch this node's pods and look the others up when seen; cluster: watch every pod (API load grows "
       "with pods x nodes, see doc/scaling.md)",
       [](Config& c, const Value& v) { c.kube_pods = static_cast<KubePods>(v.choice); },
       [](const Config& c) { return json(to_string(c.kube_pods)); }},
      {"kube-lookup-ttl",
       Kind::kDuration,
       "5m",
       {},
       1000,
       24 * kMsPerHour,
       "how long a looked-up pod name holds before it is looked up again (kube-pods=node)",
       [](Config& c, const Value& v) { c.kube_lookup_ttl = v.d; },
       [](const Config& c) { return json(dur_str(c.kube_lookup_ttl)); }},
      {"kube-lookup-negative-ttl",
       Kind::kDuration,
       "30s",
       {},
       1000,
       kMsPerHour,
       "how long an address no pod holds stays unnamed before it is looked up again",
       [](Config& c, const Value& v) { c.kube_lookup_negative_ttl = v.d; },
       [](const Config& c) { return json(dur_str(c.kube_lookup_negative_ttl)); }},
      {"kube-lookup-rate",
       Kind::kUint,
       "20",
       {},
       0,
       10000,
       "most pod lookups per second against the API server (0: none, pods of other nodes stay unnamed)",
       [](Config& c, const Value& v) { c.kube_lookup_rate = static_cast<uint32_t>(v.u); },
       [](const Config& c) { return json(c.kube_lookup_rate); }},
      {"log-level",
       Kind::kEnum,
       "info",
       {"debug", "info", "warn", "error"},
       0,
       0,
       "least severe log level written",
       [](Config& c, const Value& v) { c.log_level = static_cast<log::Level>(v.choice); },
       [](const Config& c) { return json(log::to_string(c.log_level)); }},
      {"log-format",
       Kind::kEnum,
       "logfmt",
       {"logfmt", "json"},
       0,
       0,
       "log line format on stderr",
       [](Config& c, const Value& v) { c.log_format = v.choice == 0 ? log::Format::kLogfmt : log::Format::kJson; },
       [](const Config& c) { return json(log::to_string(c.log_format)); }},
      {"validate",
       Kind::kBool,
       "false",
       {},
       0,
       0,
       "check the configuration and exit 0 without touching the system",
       [](Config& c, const Value& v) { c.validate = v.b; },
       [](const Config& c) { return json(c.validate); }},
  };
  return kSchema;
}

const FieldDesc* find_field(std::string_view name) {
  for (const auto& f : schema()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

std::string env_name(std::string_view flag) {
  std::string out = "NETRING_";
  for (char c : flag) out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string jq(std::string_view s) {
  return json(std::string(s)).dump();
}

std::string join(const std::vector<const char*>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::string(v[i]);
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_commas(std::string_view s) {
  std::vector<std::string_view> out;
  while (true) {
    size_t pos = s.find(',');
    std::string_view part = trim(s.substr(0, pos));
    if (!part.empty()) out.push_back(part);
    if (pos == std::string_view::npos) break;
    s.remove_prefix(pos + 1);
  }
  return out;
}

std::optional<uint64_t> parse_uint(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

bool valid_ifname(std::string_view s) {
  // IFNAMSIZ is 16 including the NUL; the kernel rejects '/', ':' and whitespace (dev_valid_name).
  if (s.empty() || s.size() > 15 || s == "." || s == "..") return false;
  return std::none_of(s.begin(), s.end(), [](char c) {
    return c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)) || c == '\0';
  });
}

bool valid_hostname(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

std::optional<HostPort> parse_host_port(std::string_view s) {
  std::string_view host, port;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') return std::nullopt;
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
    in6_addr a6;
    if (inet_pton(AF_INET6, std::string(host).c_str(), &a6) != 1) return std::nullopt;
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // bare IPv6 needs brackets
    in_addr a4;
    bool looks_numeric = !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
      return std::isdigit(static_cast<unsigned char>(c)) || c == '.';
    });
    if (looks_numeric ? inet_pton(AF_INET, std::string(host).c_str(), &a4) != 1 : !valid_hostname(host)) {
      return std::nullopt;
    }
  }
  auto p = parse_uint(port);
  if (!p || *p < 1 || *p > 65535) return std::nullopt;
  return HostPort{std::string(host), static_cast<uint16_t>(*p)};
}

// Parses `text` for field `f`; on failure returns what is wrong and what is allowed.
std::optional<std::string> parse_value(const FieldDesc& f, std::string_view text, Value& v) {
  v.text = std::string(text);
  switch (f.kind) {
    case Kind::kPath: return std::nullopt;
    case Kind::kString:
      if (!text.empty() && !valid_hostname(text)) {
        return jq(text) + " is not a valid name (letters, digits, '-', '.', '_'; at most 253 characters)";
      }
      return std::nullopt;
    case Kind::kUint: {
      auto u = parse_uint(text);
      std::string range = std::to_string(f.min) + ".." + std::to_string(f.max);
      if (!u) return jq(text) + " is not an unsigned integer (allowed: " + range + ")";
      if (*u < f.min || *u > f.max) return jq(text) + " is out of range (allowed: " + range + ")";
      v.u = *u;
      return std::nullopt;
    }
    case Kind::kEnum:
      for (size_t i = 0; i < f.choices.size(); ++i) {
        if (text == f.choices[i]) {
          v.choice = i;
          return std::nullopt;
        }
      }
      return jq(text) + " is not one of " + join(f.choices);
    case Kind::kRegex: try { std::regex re(v.text, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        return jq(text) + " is not a valid regular expression (ECMAScript syntax): " + e.what();
      }
      return std::nullopt;
    case Kind::kIfList:
      v.list.clear();
      for (auto part : split_commas(text)) {
        if (!valid_ifname(part)) {
          return jq(part) +
                 " is not an interface name (a comma-separated list of names of 1-15 characters without '/', ':' or "
                 "spaces)";
        }
        v.list.emplace_back(part);
      }
      return std::nullopt;
    case Kind::kPortList:
      v.ports.clear();
      for (auto part : split_commas(text)) {
        auto u = parse_uint(part);
        if (!u || *u < f.min || *u > f.max) {
          return jq(part) + " is not a port (a comma-separated list of integers in 1..65535)";
        }
        v.ports.push_back(static_cast<uint16_t>(*u));
      }
      return std::nullopt;
    case Kind::kDuration: {
      auto d = parse_duration(text);
      std::string range = dur_str(milliseconds(f.min)) + ".." + dur_str(milliseconds(f.max));
      if (!d)
        return jq(text) + " is not a duration (an integer with a unit ms, s, m or h, e.g. 30s; allowed: " + range + ")";
      if (static_cast<uint64_t>(d->count()) < f.min || static_cast<uint64_t>(d->count()) > f.max) {
        return jq(text) + " is out of range (allowed: " + range + ")";
      }
      v.d = *d;
      return std::nullopt;
    }
    case Kind::kHostPort: {
      if (text.empty() && f.default_text[0] == '\0') {  // optional: empty turns the feature off
        v.hp = {};
        return std::nullopt;
      }
      auto hp = parse_host_port(text);
      if (!hp) return jq(text) + " is not a listen address (host:port or [ipv6]:port, port 1..65535)";
      v.hp = *hp;
      return std::nullopt;
    }
    case Kind::kWordList:
      v.list.clear();
      for (auto part : split_commas(text)) {
        if (std::find(f.choices.begin(), f.choices.end(), part) == f.choices.end())
          return jq(part) + " is not one of " + join(f.choices) + " (a comma-separated list)";
        if (std::find(v.list.begin(), v.list.end(), part) == v.list.end()) v.list.emplace_back(part);
      }
      return std::nullopt;
    case Kind::kBool:
      if (text == "true")
        v.b = true;
      else if (text == "false")
        v.b = false;
      else
        return jq(text) + " is not a boolean (true or false)";
      return std::nullopt;
  }
  return "unknown field kind";
}

const char* kind_text(const FieldDesc& f) {
  switch (f.kind) {
    case Kind::kPath: return "PATH";
    case Kind::kString: return "NAME";
    case Kind::kUint: return "N";
    case Kind::kEnum: return "WORD";
    case Kind::kRegex: return "REGEX";
    case Kind::kIfList: return "IF,...";
    case Kind::kPortList: return "PORT,...";
    case Kind::kDuration: return "DURATION";
    case Kind::kHostPort: return "HOST:PORT";
    case Kind::kBool: return "[=BOOL]";
    case Kind::kWordList: return "WORD,...";
  }
  return "";
}

std::string allowed_text(const FieldDesc& f) {
  switch (f.kind) {
    case Kind::kUint: return "unsigned integer " + std::to_string(f.min) + ".." + std::to_string(f.max);
    case Kind::kEnum: return "one of " + join(f.choices);
    case Kind::kDuration: return "duration " + dur_str(milliseconds(f.min)) + ".." + dur_str(milliseconds(f.max));
    case Kind::kBool: return "true or false";
    case Kind::kRegex: return "ECMAScript regular expression";
    case Kind::kIfList: return "comma-separated interface names";
    case Kind::kPortList: return "comma-separated ports 1..65535";
    case Kind::kHostPort: return "host:port or [ipv6]:port";
    case Kind::kPath: return "file path";
    case Kind::kString: return "name";
    case Kind::kWordList: return "comma-separated subset of " + join(f.choices);
  }
  return "";
}

struct Failure {
  std::string message;
};

class Parser {
 public:
  Parser(const EnvLookup& env, const std::string& hostname) : env_(env), hostname_(hostname) {}

  ConfigOutcome run(std::span<const char* const> args) {
    ConfigOutcome out;
    try {
      auto flags = tokenize(args);
      for (const auto& [name, value] : flags) {
        if (name == "help") {
          out.exit_code = 0;
          out.out = config_help();
          return out;
        }
        if (name == "version") {
          out.exit_code = 0;
          out.out = std::string("netring-agent ") + NETRING_VERSION + "\n";
          return out;
        }
      }
      for (const auto& f : schema()) apply(out.config, f, f.default_text, "default");

      std::string config_path;
      if (auto e = env_(env_name("config"))) config_path = *e;
      for (const auto& [name, value] : flags) {
        if (name == "config") config_path = value;
      }
      if (!config_path.empty()) apply_file(out.config, config_path);

      for (const auto& f : schema()) {
        if (auto e = env_(env_name(f.name))) apply(out.config, f, *e, env_name(f.name));
      }
      for (const auto& [name, value] : flags) apply(out.config, *find_field(name), value, "");

      check_combination(out.config);
      if (out.config.node_name.empty()) {
        auto nn = env_("NODE_NAME");
        std::string fallback = nn && !nn->empty() ? *nn : hostname_;
        if (fallback.empty()) throw Failure{"--node-name: not set, and neither NODE_NAME nor the host name is known"};
        apply(out.config, *find_field("node-name"), fallback, nn && !nn->empty() ? "NODE_NAME" : "host name");
      }
    } catch (const Failure& f) {
      out.exit_code = 2;
      out.err = "netring-agent: " + f.message + "\n";
    }
    return out;
  }

 private:
  // Splits argv into (field, value) pairs; bool flags without "=" get "true".
  std::vector<std::pair<std::string, std::string>> tokenize(std::span<const char* const> args) {
    std::vector<std::pair<std::string, std::string>> out;
    for (size_t i = 0; i < args.size(); ++i) {
      std::string_view a = args[i];
      if (a == "-h" || a == "--help") {
        out.emplace_back("help", "");
        continue;
      }
      if (a == "-V" || a == "--version") {
        out.emplace_back("version", "");
        continue;
      }
      if (a.size() < 3 || a.substr(0, 2) != "--") {
        throw Failure{"unexpected argument " + jq(a) + " (options are --name=value; see --help)"};
      }
      a.remove_prefix(2);
      size_t eq = a.find('=');
      std::string name(a.substr(0, eq));
      const FieldDesc* f = find_field(name);
      if (!f) throw Failure{"unknown flag --" + name + " (see --help)"};
      if (eq != std::string_view::npos) {
        out.emplace_back(name, std::string(a.substr(eq + 1)));
      } else if (f->kind == Kind::kBool) {
        out.emplace_back(name, "true");
      } else {
        if (i + 1 >= args.size()) throw Failure{"--" + name + ": needs a value (" + allowed_text(*f) + ")"};
        out.emplace_back(name, args[++i]);
      }
    }
    return out;
  }

  // Checks between fields, once every source is applied.
  static void check_combination(const Config& c) {
    // The parser has four VXLAN and four Geneve port slots.
    const auto vxlan = tunnel_parser_ports(c.tunnel_ports, false), geneve = tunnel_parser_ports(c.tunnel_ports, true);
    if (vxlan.size() > 4 || geneve.size() > 4)
      throw Failure{"--tunnel-ports: at most 4 VXLAN ports and 4 Geneve ports (6081) are decapsulated; got " +
                    std::to_string(vxlan.size()) + " and " + std::to_string(geneve.size())};
    // A sample travels in one AF_XDP frame: longer snap lengths need the
    // TPACKET_V3 rung, which --backend=auto takes by itself.
    if (c.backend == Backend::kAfxdp && c.snap_len > datapath::kMaxAfXdpSnapLen)
      throw Failure{"--snap-len: " + std::to_string(c.snap_len) + " exceeds what one AF_XDP frame carries with " +
                    "--backend=afxdp (allowed: 64.." + std::to_string(datapath::kMaxAfXdpSnapLen) +
                    "; --backend=auto or afpacket take longer samples)"};
  }

  void apply(Config& c, const FieldDesc& f, std::string_view text, const std::string& source) {
    Value v;
    if (auto err = parse_value(f, text, v)) {
      std::string where = source.empty() ? "" : " (from " + source + ")";
      throw Failure{"--" + std::string(f.name) + where + ": " + *err};
    }
    f.set(c, v);
  }

  void apply_file(Config& c, const std::string& path) {
    std::ifstream in(path);
    if (!in) throw Failure{"--config: cannot read " + jq(path) + ": " + std::strerror(errno)};
    json doc = json::parse(in, nullptr, false);
    if (doc.is_discarded()) throw Failure{"--config: " + jq(path) + " is not valid JSON"};
    if (!doc.is_object()) throw Failure{"--config: " + jq(path) + " must hold a JSON object"};
    std::string source = "config file " + path;
    for (const auto& [key, val] : doc.items()) {
      const FieldDesc* f = find_field(key);
      if (!f) {
        throw Failure{"--config: " + jq(path) + ": unknown key " + jq(key) +
                      " (keys are the flag names without dashes, e.g. \"sample-rate\")"};
      }
      if (f->kind == Kind::kPath && key == "config") {
        throw Failure{"--config: " + jq(path) + ": \"config\" cannot be set inside the config file"};
      }
      std::string text;
      if (val.is_string()) {
        text = val.get<std::string>();
      } else if (val.is_boolean() || val.is_number_unsigned()) {
        text = val.dump();
      } else if (val.is_array() &&
                 (f->kind == Kind::kIfList || f->kind == Kind::kPortList || f->kind == Kind::kWordList)) {
        for (const auto& el : val) {
          if (!el.is_string() && !el.is_number_unsigned()) {
            throw Failure{"--" + key + " (from " + source + "): list elements must be strings or ports, got " +
                          el.dump()};
          }
          text += (text.empty() ? "" : ",") + (el.is_string() ? el.get<std::string>() : el.dump());
        }
      } else {
        throw Failure{"--" + key + " (from " + source + "): " + val.dump() + " has the wrong JSON type (" +
                      allowed_text(*f) + ")"};
      }
      apply(c, *f, text, source);
    }
  }

  const EnvLookup& env_;
  const std::string& hostname_;
};

}  // namespace

std::vector<uint16_t> tunnel_parser_ports(const std::vector<uint16_t>& ports, bool geneve) {
  std::vector<uint16_t> out;
  for (uint16_t p : ports) {
    if (p == kWireGuardPort) continue;  // encrypted: nothing to decapsulate
    if ((p == kGenevePort) == geneve && std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  return out;
}

std::string HostPort::str() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<milliseconds> parse_duration(std::string_view s) {
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  if (digits == 0 || digits > 12) return std::nullopt;
  auto n = parse_uint(s.substr(0, digits));
  std::string_view unit = s.substr(digits);
  if (!n) return std::nullopt;
  if (unit == "ms") return milliseconds(*n);
  if (unit == "s") return milliseconds(*n * 1000);
  if (unit == "m") return milliseconds(*n * 60'000);
  if (unit == "h") return milliseconds(*n * kMsPerHour);
  return std::nullopt;
}

const char* to_string(ExactFlows e) {
  switch (e) {
    case ExactFlows::kOff: return "off";
    case ExactFlows::kBulk: return "bulk";
    case ExactFlows::kAll: return "all";
  }
  return "?";
}

const char* to_string(Backend b) {
  switch (b) {
    case Backend::kAuto: return "auto";
    case Backend::kAfxdp: return "afxdp";
    case Backend::kAfpacket: return "afpacket";
  }
  return "?";
}
const char* to_string(CaptureXdpMode m) {
  switch (m) {
    case CaptureXdpMode::kAuto: return "auto";
    case CaptureXdpMode::kNative: return "native";
    case CaptureXdpMode::kGeneric: return "generic";
  }
  return "?";
}
const char* to_string(KubeApi k) {
  return k == KubeApi::kOff ? "off" : "auto";
}
const char* to_string(KubePods p) {
  return p == KubePods::kCluster ? "cluster" : "node";
}
const char* to_string(IpfixTransport t) {
  return t == IpfixTransport::kTcp ? "tcp" : "udp";
}

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

ConfigOutcome parse_config(std::span<const char* const> args, const EnvLookup& env, const std::string& hostname) {
  return Parser(env, hostname).run(args);
}

ConfigOutcome parse_config(int argc, const char* const* argv) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::span<const char* const> args(argv + (argc > 0 ? 1 : 0), argc > 0 ? static_cast<size_t>(argc - 1) : 0);
  return parse_config(args, process_env(), host);
}

std::string config_help() {
  std::ostringstream o;
  o << "Usage: netring-agent [OPTIONS]\n\n"
       "Kubernetes network-observability agent: hooks pod veths and physical interfaces\n"
       "with embedded BPF, samples packet copies into user space over AF_XDP (AF_PACKET\n"
       "as fallback), and exports flows as Prometheus metrics and an HTTP JSON API.\n\n"
       "Every option can also be set in the environment as NETRING_<NAME> (e.g.\n"
       "NETRING_SAMPLE_RATE=100) or in the JSON file given by --config, keyed by the\n"
       "flag name without dashes (e.g. {\"sample-rate\": 100}). Later sources win:\n"
       "defaults < config file < environment < flags. Bool flags take --x or\n"
       "--x=true|false. Durations are an integer with a unit: ms, s, m, h.\n\n"
       "Options:\n";
  for (const auto& f : schema()) {
    std::string head = "  --" + std::string(f.name) + (f.kind == Kind::kBool ? "" : " ") + kind_text(f);
    o << head << "\n      " << f.help << "\n      " << allowed_text(f) << "; default "
      << (f.default_text[0] ? f.default_text : "\"\"") << "; env " << env_name(f.name) << "\n";
  }
  o << "  -h, --help\n      show this help and exit\n"
       "  -V, --version\n      print the version and exit\n";
  return o.str();
}

nlohmann::json config_to_json(const Config& c) {
  json j = json::object();
  for (const auto& f : schema()) j[f.name] = f.get(c);
  return j;
}

std::vector<std::string> config_field_names() {
  std::vector<std::string> out;
  for (const auto& f : schema()) out.emplace_back(f.name);
  return out;
}

}  // namespace netring::agent
