// Every configuration field does something: for each one, a non-default
// value must move what agent_options() builds the agent from, or the field
// is consumed before that (by the parser, main() or the Kubernetes client)
// and a named test shows its effect there. A field added to the schema
// without either fails here.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>

#include "agent/agent_options.hpp"
#include "agent/config.hpp"
#include "agent/export/export_options.hpp"
#include "pkg/flow/table.hpp"

namespace {

using namespace netring::agent;

Config parsed(std::vector<std::string> args) {
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  auto r = parse_config(
      std::span<const char* const>(argv.data(), argv.size()),
      [](const std::string&) -> std::optional<std::string> { return std::nullopt; }, "host-a");
  EXPECT_EQ(r.exit_code, -1) << r.err;
  return r.config;
}

AgentOptions options(std::vector<std::string> args) {
  auto o = agent_options(parsed(std::move(args)));
  EXPECT_TRUE(o) << o.error().message();
  return std::move(o).value();
}

struct Effect {
  std::string flag;                                // --field=value
  std::function<bool(const AgentOptions&)> shows;  // true with the flag, false with the defaults
};

TEST(ConfigEffect, EveryFieldMovesTheAgentsOptionsOrIsShownElsewhere) {
  namespace datapath = netring::datapath;
  std::set<std::string> covered;
  const std::vector<Effect> effects = {
      {"--node-name=node-b", [](const AgentOptions& o) { return o.publisher.node_name == "node-b"; }},
      {"--sample-rate=7",
       [](const AgentOptions& o) {
         return o.hook_rate == 7 && o.capture.direct_sample_rate == 7 && o.publisher.sample_rate == 7;
       }},
      {"--copy-budget=0",
       [](const AgentOptions& o) { return o.datapath.programs.copy_budget == 0 && o.publisher.copy_budget == 0; }},
      {"--copy-budget=500",
       [](const AgentOptions& o) { return o.datapath.programs.copy_budget == 500 && o.publisher.copy_budget == 500; }},
      {"--backend=afpacket",
       [](const AgentOptions& o) { return o.datapath.highest_rung == datapath::Rung::kAfPacketMirror; }},
      {"--exact-flows=all",
       [](const AgentOptions& o) {
         return o.datapath.programs.exact_flows == datapath::ExactFlows::kAll &&
                o.publisher.exact_flows == datapath::ExactFlows::kAll;
       }},
      {"--workers=3", [](const AgentOptions& o) { return o.datapath.workers == 3; }},
      {"--snap-len=300",
       [](const AgentOptions& o) {
         return o.datapath.programs.snap_len == 300 && o.capture_ports.port.snap_len == 300 &&
                o.api.capture.snap_len == 300;
       }},
      {"--interfaces-include=^x", [](const AgentOptions& o) { return o.discovery.include == "^x"; }},
      {"--interfaces-exclude=^y", [](const AgentOptions& o) { return o.discovery.exclude == "^y"; }},
      {"--physical-interfaces=eth9",
       [](const AgentOptions& o) { return o.discovery.physical_interfaces == std::vector<std::string>{"eth9"}; }},
      {"--capture-ports=span0",
       [](const AgentOptions& o) {
         return o.capture_ports_enabled && o.discovery.capture_ports == std::vector<std::string>{"span0"};
       }},
      {"--capture-sample-rate=16",
       [](const AgentOptions& o) {
         return o.capture_ports.port.sample_rate == 16 && o.publisher.capture_sample_rate == 16;
       }},
      {"--capture-xdp-mode=native",
       [](const AgentOptions& o) { return o.capture_ports.port.xdp_mode == datapath::CaptureXdpMode::kNative; }},
      {"--tunnel-ports=4790,6081",
       [](const AgentOptions& o) {
         return o.datapath.programs.tunnel_udp_ports == std::vector<std::uint16_t>{4790, 6081} &&
                o.worker.parser.vxlan_ports == std::array<std::uint16_t, 4>{4790, 0, 0, 0} &&
                o.worker.parser.geneve_ports == std::array<std::uint16_t, 4>{6081, 0, 0, 0} &&
                o.capture_ports.worker.parser.vxlan_ports == o.worker.parser.vxlan_ports;
       }},
      {"--dns=off",
       [](const AgentOptions& o) {
         return !o.datapath.programs.copy_dns && !o.worker.control.dns && !o.publisher.control.dns;
       }},
      {"--dns-ports=5353",
       [](const AgentOptions& o) {
         return o.datapath.programs.dns_ports == std::vector<std::uint16_t>{5353} &&
                o.worker.control.dns_ports == std::vector<std::uint16_t>{5353};
       }},
      {"--dns-timeout=2s",
       [](const AgentOptions& o) { return o.publisher.control.dns_timeout_ns == 2'000'000'000ULL; }},
      {"--dns-qname-label=on", [](const AgentOptions& o) { return o.flow_metrics.dns_qname_label; }},
      {"--tcp-handshake=off",
       [](const AgentOptions& o) {
         return !o.datapath.programs.copy_tcp_control && !o.worker.control.tcp_handshake &&
                !o.publisher.control.tcp_handshake;
       }},
      {"--label-level=pod", [](const AgentOptions& o) { return o.flow_metrics.level == LabelLevel::kPod; }},
      {"--flow-table-size=4096",
       [](const AgentOptions& o) {
         return o.worker.table.max_flows == 4096 && o.capture_ports.worker.table.max_flows == 4096 &&
                o.datapath.programs.flow_map_entries == 4096 && o.flow_map_sizing.min_entries == 4096 &&
                o.flow_map_sizing.max_entries == 4096;
       }},
      // Above the kernel maps' start: they start there and may grow to it.
      {"--flow-table-size=100000",
       [](const AgentOptions& o) {
         return o.worker.table.max_flows == 100000 && o.datapath.programs.flow_map_entries == 16384 &&
                o.flow_map_sizing.min_entries == 16384 && o.flow_map_sizing.max_entries == 100000;
       }},
      {"--flow-idle-timeout=7s",
       [](const AgentOptions& o) { return o.worker.table.idle_timeout_ns == 7'000'000'000ULL; }},
      {"--flow-active-timeout=9s",
       [](const AgentOptions& o) {
         return o.worker.table.active_timeout_ns == 9'000'000'000ULL &&
                o.publisher.unseen_window == std::chrono::milliseconds(19'000);
       }},
      {"--metrics-listen=127.0.0.1:9100", [](const AgentOptions& o) { return o.metrics_listen.port == 9100; }},
      {"--api-listen=127.0.0.1:9101", [](const AgentOptions& o) { return o.api.listen.port == 9101; }},
      {"--max-series=123", [](const AgentOptions& o) { return o.flow_metrics.max_series == 123; }},
      {"--pod-grace-period=5s",
       [](const AgentOptions& o) { return o.flow_metrics.pod_grace_period == std::chrono::seconds(5); }},
      {"--enable-capture-api", [](const AgentOptions& o) { return o.api.capture.enabled; }},
      {"--capture-max-duration=5s",
       [](const AgentOptions& o) { return o.api.capture.max_duration == std::chrono::seconds(5); }},
      {"--capture-max-packets=77", [](const AgentOptions& o) { return o.api.capture.max_packets == 77u; }},
  };
  // The IPFIX exporter's fields: exporter::options_from() builds its
  // options (the exporter's own tests show what each option does).
  const std::vector<std::pair<std::string, std::function<bool(const exporter::ExportOptions&)>>> ipfix = {
      {"--ipfix-collector=127.0.0.1:2055",
       [](const exporter::ExportOptions& e) { return e.host == "127.0.0.1" && e.port == 2055; }},
      {"--ipfix-transport=tcp",
       [](const exporter::ExportOptions& e) { return e.transport == exporter::Transport::kTcp; }},
      {"--ipfix-template-refresh=7s",
       [](const exporter::ExportOptions& e) { return e.template_refresh == std::chrono::seconds(7); }},
      {"--ipfix-template-refresh-messages=9",
       [](const exporter::ExportOptions& e) { return e.template_refresh_messages == 9; }},
      {"--ipfix-active-interval=11s",
       [](const exporter::ExportOptions& e) { return e.active_interval == std::chrono::seconds(11); }},
      {"--ipfix-observation-domain=77", [](const exporter::ExportOptions& e) { return e.observation_domain == 77; }},
      {"--ipfix-enterprise-number=65000",
       [](const exporter::ExportOptions& e) { return e.enterprise_number == 65000; }},
      {"--ipfix-fields=totals",
       [](const exporter::ExportOptions& e) { return e.fields.totals && !e.fields.kubernetes && !e.fields.accuracy; }},
      {"--ipfix-queue-size=123", [](const exporter::ExportOptions& e) { return e.queue_size == 123; }},
      {"--ipfix-max-message-size=900", [](const exporter::ExportOptions& e) { return e.max_message_size == 900; }},
  };
  const exporter::ExportOptions ipfix_defaults = exporter::options_from(parsed({}));
  for (const auto& [flag, shows] : ipfix) {
    const std::string field = flag.substr(2, flag.find('=') - 2);
    covered.insert(field);
    EXPECT_FALSE(shows(ipfix_defaults)) << flag << " already holds with the defaults: the check shows nothing";
    EXPECT_TRUE(shows(exporter::options_from(parsed({flag})))) << flag << " does not reach the exporter's options";
  }
  // Consumed before agent_options(), each shown by the test named.
  const std::map<std::string, std::string> elsewhere = {
      {"config", "tests/unit/config_test.cpp Config.PrecedenceFileThenEnvThenFlag"},
      {"kubeconfig", "tests/unit/k8s_metadata_test.cpp (k8s::Metadata::start reads the fake API server's kubeconfig)"},
      {"kube-api", "tests/unit/k8s_metadata_test.cpp (--kube-api=off)"},
      {"kube-pods", "tests/unit/k8s_metadata_test.cpp K8sMetadata.ClusterScopeWatchesEveryPodAndLooksNothingUp"},
      {"kube-lookup-ttl", "tests/unit/k8s_metadata_test.cpp K8sMetadata.LookupTtlsComeFromTheConfiguration"},
      {"kube-lookup-negative-ttl", "tests/unit/k8s_metadata_test.cpp K8sMetadata.LookupTtlsComeFromTheConfiguration"},
      {"kube-lookup-rate", "tests/unit/k8s_metadata_test.cpp K8sMetadata.LookupRateZeroLeavesOtherNodesPodsUnnamed"},
      {"pods-from", "e2e/agent_cni.sh (names from the PodList, reloaded on change)"},
      {"drops", "e2e/kernel_events.sh (--drops=off: no netring_drops_total series, no drop details, status says off)"},
      {"tcp-retransmits",
       "e2e/kernel_events.sh (--tcp-retransmits=off: no netring_tcp_retransmits_total series, no flow retransmits)"},
      {"log-level", "tests/netns/agent_capture_port_test.cpp AgentOptions.LogFormatAndLevelShapeTheLog"},
      {"log-format", "tests/netns/agent_capture_port_test.cpp AgentOptions.LogFormatAndLevelShapeTheLog"},
      {"validate", "tests/chart/chart_test.sh (agent --validate with the rendered args)"},
  };
  const AgentOptions defaults = options({});
  for (const auto& e : effects) {
    const std::string field =
        e.flag.substr(2, e.flag.find('=') == std::string::npos ? std::string::npos : e.flag.find('=') - 2);
    covered.insert(field);
    EXPECT_FALSE(e.shows(defaults)) << e.flag << " already holds with the defaults: the check shows nothing";
    EXPECT_TRUE(e.shows(options({e.flag}))) << e.flag << " does not reach the agent's options";
  }
  for (const auto& name : config_field_names())
    EXPECT_TRUE(covered.contains(name) || elsewhere.contains(name))
        << "--" << name << " has no effect shown: add it to agent_options() and here, or name its test";
}

// --flow-table-size is what a group of workers holds together (the
// mirror's, each capture port's), split evenly, and a table really holds its
// share: the byte budget follows from the size.
TEST(ConfigEffect, FlowTableSizeIsSplitOverAGroupOfWorkers) {
  const AgentOptions o = options({"--flow-table-size=1000000"});
  auto one = netring::flow::FlowTable::create(for_workers(o.worker, 1).table);
  ASSERT_TRUE(one) << one.error().message();
  EXPECT_EQ(one->max_flows(), 1'000'000u);
  auto quarter = netring::flow::FlowTable::create(for_workers(o.worker, 4).table);
  ASSERT_TRUE(quarter) << quarter.error().message();
  EXPECT_EQ(quarter->max_flows(), 250'000u);
  EXPECT_EQ(for_workers(options({"--flow-table-size=2048"}).worker, 64).table.max_flows, 1024u) << "a floor";
}

// DNS and handshakes come from the sampler's forced copies: a capture
// port's workers (sampled by its own XDP program) do not track them.
TEST(ConfigEffect, CapturePortWorkersDoNotTrackDnsOrHandshakes) {
  const AgentOptions o = options({"--capture-ports=span0"});
  EXPECT_TRUE(o.worker.control.dns);
  EXPECT_TRUE(o.worker.control.tcp_handshake);
  EXPECT_FALSE(o.capture_ports.worker.control.dns);
  EXPECT_FALSE(o.capture_ports.worker.control.tcp_handshake);
}

TEST(ConfigEffect, TunnelPortsDefaultsKeepWireGuardOutOfTheParser) {
  const AgentOptions o = options({});
  EXPECT_EQ(o.datapath.programs.tunnel_udp_ports, (std::vector<std::uint16_t>{4789, 8472, 6081, 51820}));
  EXPECT_EQ(o.worker.parser.vxlan_ports, (std::array<std::uint16_t, 4>{4789, 8472, 0, 0}));
  EXPECT_EQ(o.worker.parser.geneve_ports, (std::array<std::uint16_t, 4>{6081, 0, 0, 0}));
  const AgentOptions none = options({"--tunnel-ports="});
  EXPECT_TRUE(none.datapath.programs.tunnel_udp_ports.empty());
  EXPECT_EQ(none.worker.parser.vxlan_ports, (std::array<std::uint16_t, 4>{}));
}

}  // namespace
