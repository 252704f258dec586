// The agent's configuration: one schema (kConfigSchema in config.cpp) from
// which --help, the JSON config file, NETRING_* environment variables and the
// command-line flags are all handled. Precedence, later wins: defaults <
// config file < environment < flags. The contract shared with the Helm chart
// is CONFIG_CONTRACT.md; a bad value ends the process with status 2 and a
// message naming the flag and what it allows.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "agent/label_level.hpp"
#include "agent/log.hpp"

namespace netring::agent {

enum class Backend { kAuto, kAfxdp, kAfpacket };
// How the redirect program goes onto a capture port (--capture-xdp-mode).
enum class CaptureXdpMode { kAuto, kNative, kGeneric };
// The order is the --exact-flows choices' order.
enum class ExactFlows { kOff, kBulk, kAll };
enum class KubeApi { kAuto, kOff };
enum class KubePods { kNode, kCluster };
enum class IpfixTransport { kUdp, kTcp };

// A listen address "host:port" or "[v6]:port"; host is an IP literal or a
// host name.
struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string str() const;
  bool operator==(const HostPort&) const = default;
};

struct Config {
  std::string config_file;
  std::string node_name;
  uint32_t sample_rate = 100;
  uint32_t copy_budget = 2000;
  ExactFlows exact_flows = ExactFlows::kBulk;
  bool drops = true;            // --drops: kernel drop reasons (pkg/kevents)
  bool tcp_retransmits = true;  // --tcp-retransmits
  Backend backend = Backend::kAuto;
  uint32_t workers = 1;
  uint32_t snap_len = 128;
  std::string interfaces_include;  // std::regex (ECMAScript), checked to compile
  std::string interfaces_exclude;
  std::vector<std::string> physical_interfaces;  // empty: devices of the default routes
  std::vector<std::string> capture_ports;
  uint32_t capture_sample_rate = 1;
  CaptureXdpMode capture_xdp_mode = CaptureXdpMode::kAuto;
  std::vector<uint16_t> tunnel_ports = {4789, 8472, 6081, 51820};
  LabelLevel label_level = LabelLevel::kWorkload;
  // DNS and TCP handshake tracking from always-copied control packets.
  bool dns = true;
  std::vector<uint16_t> dns_ports = {53};
  std::chrono::milliseconds dns_timeout{5'000};
  bool dns_qname_label = false;
  bool tcp_handshake = true;
  uint32_t flow_table_size = 65536;
  std::chrono::milliseconds flow_idle_timeout{30'000};
  std::chrono::milliseconds flow_active_timeout{120'000};
  HostPort metrics_listen{"0.0.0.0", 9990};
  HostPort api_listen{"127.0.0.1", 9991};
  uint64_t max_series = 20000;
  std::chrono::milliseconds pod_grace_period{60'000};
  bool enable_capture_api = false;
  std::chrono::milliseconds capture_max_duration{60'000};
  uint64_t capture_max_packets = 100000;
  // IPFIX flow export (agent/export): off while ipfix_collector.host is empty.
  HostPort ipfix_collector;
  IpfixTransport ipfix_transport = IpfixTransport::kUdp;
  std::chrono::milliseconds ipfix_template_refresh{60'000};
  uint32_t ipfix_template_refresh_messages = 0;
  std::chrono::milliseconds ipfix_active_interval{60'000};
  uint32_t ipfix_observation_domain = 1;
  uint32_t ipfix_enterprise_number = 32473;
  std::vector<std::string> ipfix_fields = {"totals", "interfaces", "kubernetes", "accuracy"};
  uint32_t ipfix_queue_size = 65536;
  uint32_t ipfix_max_message_size = 1400;
  std::string kubeconfig;
  KubeApi kube_api = KubeApi::kAuto;
  std::string pods_from;
  // Kubernetes API load (doc/scaling.md): which pods are watched, and the
  // point lookups that name the others.
  KubePods kube_pods = KubePods::kNode;
  std::chrono::milliseconds kube_lookup_ttl{300'000};
  std::chrono::milliseconds kube_lookup_negative_ttl{30'000};
  uint32_t kube_lookup_rate = 20;
  log::Level log_level = log::Level::kInfo;
  log::Format log_format = log::Format::kLogfmt;
  bool validate = false;
};

// Looks up an environment variable; std::getenv in the agent, a map in tests.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_env();

// What parsing decided. exit_code < 0: run with `config`. Otherwise print
// `out` to stdout and `err` to stderr and exit with exit_code (0 for --help
// and --version, 2 for a bad value).
struct ConfigOutcome {
  Config config;
  int exit_code = -1;
  std::string out;
  std::string err;
};

// args excludes argv[0]. `hostname` is the fallback node name when neither
// --node-name nor NODE_NAME is set.
ConfigOutcome parse_config(std::span<const char* const> args, const EnvLookup& env, const std::string& hostname);
// The same with the process environment and gethostname().
ConfigOutcome parse_config(int argc, const char* const* argv);

// The --help text: every field with its type, default, allowed values, env
// variable and meaning.
std::string config_help();

// The effective configuration, keyed like the config file.
nlohmann::json config_to_json(const Config& c);

// Names of every field in the schema, in --help order (tests, docs).
std::vector<std::string> config_field_names();

// The --tunnel-ports the flow parser decapsulates as Geneve (geneve = true:
// 6081) or VXLAN (every other port but WireGuard's 51820), without repeats.
inline constexpr uint16_t kGenevePort = 6081;
inline constexpr uint16_t kWireGuardPort = 51820;
std::vector<uint16_t> tunnel_parser_ports(const std::vector<uint16_t>& ports, bool geneve);

// Parses "30s", "2m", "1500ms", "1h": an unsigned integer followed by a unit.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view s);

const char* to_string(Backend b);
const char* to_string(CaptureXdpMode m);
const char* to_string(ExactFlows e);
const char* to_string(KubeApi k);
const char* to_string(KubePods p);
const char* to_string(IpfixTransport t);

}  // namespace netring::agent
