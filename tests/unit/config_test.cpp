#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "agent/config.hpp"

namespace {

using namespace netring::agent;
using std::chrono::milliseconds;

struct Env {
  std::map<std::string, std::string> vars;
  EnvLookup lookup() const {
    return [this](const std::string& n) -> std::optional<std::string> {
      auto it = vars.find(n);
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
  }
};

ConfigOutcome parse(std::vector<std::string> args, const Env& env = {}, const std::string& host = "host-a") {
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  return parse_config(std::span<const char* const>(argv.data(), argv.size()), env.lookup(), host);
}

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char tmpl[] = "/tmp/netring-config-XXXXXX";
    int fd = mkstemp(tmpl);
    path_ = tmpl;
    ::close(fd);
    std::ofstream(path_) << content;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(Config, DefaultsMatchTheContract) {
  auto r = parse({});
  ASSERT_EQ(r.exit_code, -1) << r.err;
  const Config& c = r.config;
  EXPECT_EQ(c.node_name, "host-a");
  EXPECT_EQ(c.sample_rate, 100u);
  EXPECT_EQ(c.copy_budget, 2000u);
  EXPECT_EQ(c.backend, Backend::kAuto);
  EXPECT_EQ(c.workers, 1u);
  EXPECT_EQ(c.snap_len, 128u);
  EXPECT_TRUE(c.physical_interfaces.empty());
  EXPECT_TRUE(c.capture_ports.empty());
  EXPECT_EQ(c.capture_sample_rate, 1u);
  EXPECT_EQ(c.capture_xdp_mode, CaptureXdpMode::kAuto);
  EXPECT_EQ(c.tunnel_ports, (std::vector<uint16_t>{4789, 8472, 6081, 51820}));
  EXPECT_EQ(c.label_level, LabelLevel::kWorkload);
  EXPECT_TRUE(c.dns);
  EXPECT_EQ(c.dns_ports, (std::vector<uint16_t>{53}));
  EXPECT_EQ(c.dns_timeout, milliseconds(5'000));
  EXPECT_TRUE(c.tcp_handshake);
  EXPECT_EQ(c.flow_table_size, 65536u);
  EXPECT_EQ(c.flow_idle_timeout, milliseconds(30'000));
  EXPECT_EQ(c.flow_active_timeout, milliseconds(120'000));
  EXPECT_EQ(c.metrics_listen, (HostPort{"0.0.0.0", 9990}));
  EXPECT_EQ(c.api_listen, (HostPort{"127.0.0.1", 9991}));
  EXPECT_EQ(c.max_series, 20000u);
  EXPECT_EQ(c.pod_grace_period, milliseconds(60'000));
  EXPECT_FALSE(c.enable_capture_api);
  EXPECT_EQ(c.capture_max_duration, milliseconds(60'000));
  EXPECT_EQ(c.capture_max_packets, 100000u);
  EXPECT_EQ(c.kube_api, KubeApi::kAuto);
  EXPECT_EQ(c.kube_pods, KubePods::kNode);
  EXPECT_EQ(c.kube_lookup_ttl, milliseconds(300'000));
  EXPECT_EQ(c.kube_lookup_negative_ttl, milliseconds(30'000));
  EXPECT_EQ(c.kube_lookup_rate, 20u);
  EXPECT_TRUE(c.ipfix_collector.host.empty());  // no export unless asked
  EXPECT_EQ(c.ipfix_transport, IpfixTransport::kUdp);
  EXPECT_EQ(c.ipfix_template_refresh, milliseconds(60'000));
  EXPECT_EQ(c.ipfix_template_refresh_messages, 0u);
  EXPECT_EQ(c.ipfix_active_interval, milliseconds(60'000));
  EXPECT_EQ(c.ipfix_observation_domain, 1u);
  EXPECT_EQ(c.ipfix_enterprise_number, 32473u);
  EXPECT_EQ(c.ipfix_fields, (std::vector<std::string>{"totals", "interfaces", "kubernetes", "accuracy"}));
  EXPECT_EQ(c.ipfix_queue_size, 65536u);
  EXPECT_EQ(c.ipfix_max_message_size, 1400u);
  EXPECT_EQ(c.log_level, netring::log::Level::kInfo);
  EXPECT_EQ(c.log_format, netring::log::Format::kLogfmt);
  EXPECT_FALSE(c.validate);
  // The struct's initializers and the schema's default texts agree.
  Config plain;
  plain.node_name = "host-a";
  EXPECT_EQ(config_to_json(plain), config_to_json(c));
}

TEST(Config, NodeNameFromEnvThenHostname) {
  Env env;
  env.vars["NODE_NAME"] = "node-7";
  EXPECT_EQ(parse({}, env).config.node_name, "node-7");
  env.vars["NETRING_NODE_NAME"] = "node-8";
  EXPECT_EQ(parse({}, env).config.node_name, "node-8");
  EXPECT_EQ(parse({"--node-name=node-9"}, env).config.node_name, "node-9");
  auto r = parse({}, {}, "");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--node-name"), std::string::npos) << r.err;
}

// Every field with a value it rejects and a fragment of the "allowed" text.
struct BadValue {
  std::string field;
  std::string value;
  std::string allowed;
};

TEST(Config, EveryFieldRejectsBadValuesNamingTheFieldAndWhatIsAllowed) {
  const std::vector<BadValue> cases = {
      {"node-name", "has space", "not a valid name"},
      {"sample-rate", "16777217", "0..16777216"},
      {"sample-rate", "-1", "0..16777216"},
      {"sample-rate", "ten", "not an unsigned integer"},
      {"copy-budget", "100000001", "0..100000000"},
      {"copy-budget", "lots", "not an unsigned integer"},
      {"backend", "dpdk", "is not one of auto, afxdp, afpacket"},
      {"exact-flows", "some", "is not one of off, bulk, all"},
      {"drops", "yes", "is not one of off, on"},
      {"tcp-retransmits", "1", "is not one of off, on"},
      {"workers", "0", "1..64"},
      {"workers", "65", "1..64"},
      {"snap-len", "63", "64..65535"},
      {"snap-len", "65536", "64..65535"},
      {"interfaces-include", "veth(", "not a valid regular expression"},
      {"interfaces-exclude", "[a-", "not a valid regular expression"},
      {"physical-interfaces", "eth0,a/b", "not an interface name"},
      {"physical-interfaces", "averyveryverylongname", "1-15 characters"},
      {"capture-ports", "span 0", "not an interface name"},
      {"capture-sample-rate", "0", "1..16777216"},
      {"capture-sample-rate", "16777217", "1..16777216"},
      {"capture-xdp-mode", "driver", "is not one of auto, native, generic"},
      {"tunnel-ports", "4789,0", "1..65535"},
      {"tunnel-ports", "65536", "1..65535"},
      {"tunnel-ports", "vxlan", "not a port"},
      {"label-level", "pods", "is not one of node, namespace, workload, pod"},
      {"dns", "true", "is not one of off, on"},
      {"dns-ports", "53,0", "1..65535"},
      {"dns-timeout", "50ms", "100ms..1m"},
      {"dns-timeout", "5", "not a duration"},
      {"dns-qname-label", "names", "is not one of off, on"},
      {"tcp-handshake", "yes", "is not one of off, on"},
      {"flow-table-size", "1023", "1024..16777216"},
      {"flow-table-size", "16777217", "1024..16777216"},
      {"flow-idle-timeout", "30", "not a duration"},
      {"flow-idle-timeout", "500ms", "1s..24h"},
      {"flow-active-timeout", "2d", "not a duration"},
      {"flow-active-timeout", "25h", "1s..24h"},
      {"metrics-listen", "9990", "host:port"},
      {"metrics-listen", "0.0.0.0:0", "port 1..65535"},
      {"metrics-listen", "::1:9990", "[ipv6]:port"},
      {"api-listen", "300.1.1.1:9991", "host:port"},
      {"api-listen", "127.0.0.1:99999", "port 1..65535"},
      {"max-series", "4294967296", "0..4294967295"},
      {"pod-grace-period", "1x", "not a duration"},
      {"enable-capture-api", "yes", "true or false"},
      {"capture-max-duration", "0s", "1s..24h"},
      {"capture-max-packets", "0", "1..4294967295"},
      {"ipfix-collector", "collector", "host:port"},
      {"ipfix-collector", "127.0.0.1:0", "port 1..65535"},
      {"ipfix-transport", "sctp", "is not one of udp, tcp"},
      {"ipfix-template-refresh", "0s", "1s..24h"},
      {"ipfix-template-refresh-messages", "-3", "0..4294967295"},
      {"ipfix-active-interval", "25h", "0s..24h"},
      {"ipfix-observation-domain", "4294967296", "0..4294967295"},
      {"ipfix-enterprise-number", "0", "1..4294967295"},
      {"ipfix-fields", "totals,names", "is not one of totals, interfaces, kubernetes, accuracy"},
      {"ipfix-queue-size", "0", "1..16777216"},
      {"ipfix-max-message-size", "511", "512..65507"},
      {"ipfix-max-message-size", "65508", "512..65507"},
      {"kube-api", "on", "is not one of auto, off"},
      {"kube-pods", "all", "is not one of node, cluster"},
      {"kube-lookup-ttl", "500ms", "1s..24h"},
      {"kube-lookup-negative-ttl", "2h", "1s..1h"},
      {"kube-lookup-rate", "10001", "0..10000"},
      {"log-level", "trace", "is not one of debug, info, warn, error"},
      {"log-format", "text", "is not one of logfmt, json"},
      {"validate", "maybe", "true or false"},
  };
  std::set<std::string> covered;
  for (const auto& c : cases) {
    covered.insert(c.field);
    auto r = parse({"--" + c.field + "=" + c.value});
    EXPECT_EQ(r.exit_code, 2) << c.field << "=" << c.value;
    EXPECT_EQ(r.err.rfind("netring-agent: --" + c.field + ": ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.allowed), std::string::npos) << "field " << c.field << ": " << r.err;
    // Lists name the bad element.
    std::string bad = c.value.substr(c.value.rfind(',') + 1);
    EXPECT_NE(r.err.find("\"" + bad + "\""), std::string::npos) << "names the bad value: " << r.err;

    // The same value from the environment names the variable too.
    Env env;
    std::string var = "NETRING_";
    for (char ch : c.field) var += ch == '-' ? '_' : static_cast<char>(std::toupper(ch));
    env.vars[var] = c.value;
    auto re = parse({}, env);
    EXPECT_EQ(re.exit_code, 2) << var;
    EXPECT_EQ(re.err.rfind("netring-agent: --" + c.field + " (from " + var + "): ", 0), 0u) << re.err;
  }
  // "config" takes any path; its failures are covered by the file tests below.
  for (const auto& name : config_field_names()) {
    if (name == "config" || name == "kubeconfig" || name == "pods-from") continue;  // paths: any string
    EXPECT_TRUE(covered.count(name)) << "no bad-value case for --" << name;
  }
}

TEST(Config, ExactMessageForLabelLevel) {
  auto r = parse({"--label-level", "pods"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "netring-agent: --label-level: \"pods\" is not one of node, namespace, workload, pod\n");
}

TEST(Config, UnknownFlagsAndMissingValuesAndPositionals) {
  auto r = parse({"--sampel-rate=3"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown flag --sampel-rate"), std::string::npos);
  r = parse({"--sample-rate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--sample-rate: needs a value"), std::string::npos);
  r = parse({"eth0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unexpected argument \"eth0\""), std::string::npos);
}

TEST(Config, PrecedenceFileThenEnvThenFlag) {
  TempFile f(R"({"sample-rate": 7, "workers": 3, "label-level": "pod", "snap-len": 256, "tunnel-ports": [4789]})");
  Env env;
  env.vars["NETRING_WORKERS"] = "4";
  env.vars["NETRING_LABEL_LEVEL"] = "namespace";
  auto r = parse({"--config", f.path(), "--label-level=node"}, env);
  ASSERT_EQ(r.exit_code, -1) << r.err;
  EXPECT_EQ(r.config.sample_rate, 7u);                 // file over default
  EXPECT_EQ(r.config.snap_len, 256u);                  // file over default
  EXPECT_EQ(r.config.workers, 4u);                     // env over file
  EXPECT_EQ(r.config.label_level, LabelLevel::kNode);  // flag over env over file
  EXPECT_EQ(r.config.tunnel_ports, (std::vector<uint16_t>{4789}));
  EXPECT_EQ(r.config.config_file, f.path());

  // The config file can come from the environment as well.
  env.vars["NETRING_CONFIG"] = f.path();
  auto r2 = parse({}, env);
  ASSERT_EQ(r2.exit_code, -1) << r2.err;
  EXPECT_EQ(r2.config.sample_rate, 7u);
  EXPECT_EQ(r2.config.workers, 4u);
}

TEST(Config, FileErrorsNameTheKeyAndTheFile) {
  TempFile unknown(R"({"sample_rate": 7})");
  auto r = parse({"--config=" + unknown.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown key \"sample_rate\""), std::string::npos) << r.err;

  TempFile bad(R"({"workers": 100})");
  r = parse({"--config=" + bad.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--workers (from config file " + bad.path() + "): \"100\" is out of range (allowed: 1..64)"),
            std::string::npos)
      << r.err;

  TempFile wrong_type(R"({"workers": [1]})");
  r = parse({"--config=" + wrong_type.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("wrong JSON type"), std::string::npos) << r.err;

  TempFile not_json("{sample-rate: 1");
  r = parse({"--config=" + not_json.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is not valid JSON"), std::string::npos) << r.err;

  r = parse({"--config=/nonexistent/netring.json"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--config: cannot read \"/nonexistent/netring.json\": No such file"), std::string::npos)
      << r.err;

  TempFile bools(R"({"enable-capture-api": true, "physical-interfaces": ["eth0", "eth1"], "flow-idle-timeout": "2m"})");
  r = parse({"--config=" + bools.path()});
  ASSERT_EQ(r.exit_code, -1) << r.err;
  EXPECT_TRUE(r.config.enable_capture_api);
  EXPECT_EQ(r.config.physical_interfaces, (std::vector<std::string>{"eth0", "eth1"}));
  EXPECT_EQ(r.config.flow_idle_timeout, milliseconds(120'000));
}

TEST(Config, KubernetesApiLoadFields) {
  auto r =
      parse({"--kube-pods=cluster", "--kube-lookup-ttl=10m", "--kube-lookup-negative-ttl=5s", "--kube-lookup-rate=0"});
  ASSERT_EQ(r.exit_code, -1) << r.err;
  EXPECT_EQ(r.config.kube_pods, KubePods::kCluster);
  EXPECT_EQ(r.config.kube_lookup_ttl, milliseconds(600'000));
  EXPECT_EQ(r.config.kube_lookup_negative_ttl, milliseconds(5'000));
  EXPECT_EQ(r.config.kube_lookup_rate, 0u);
  auto j = config_to_json(r.config);
  EXPECT_EQ(j["kube-pods"], "cluster");
  EXPECT_EQ(j["kube-lookup-ttl"], "10m");
}

TEST(Config, DnsAndTcpHandshakeFields) {
  auto r = parse({"--dns=off", "--dns-ports=53,5353", "--dns-timeout=1500ms", "--tcp-handshake=off"});
  ASSERT_EQ(r.exit_code, -1) << r.err;
  EXPECT_FALSE(r.config.dns);
  EXPECT_EQ(r.config.dns_ports, (std::vector<uint16_t>{53, 5353}));
  EXPECT_EQ(r.config.dns_timeout, milliseconds(1500));
  EXPECT_FALSE(r.config.tcp_handshake);
}

TEST(Config, BoolFlagForms) {
  EXPECT_TRUE(parse({"--enable-capture-api"}).config.enable_capture_api);
  EXPECT_TRUE(parse({"--enable-capture-api=true"}).config.enable_capture_api);
  Env env;
  env.vars["NETRING_ENABLE_CAPTURE_API"] = "true";
  EXPECT_FALSE(parse({"--enable-capture-api=false"}, env).config.enable_capture_api);
  EXPECT_TRUE(parse({}, env).config.enable_capture_api);
  EXPECT_TRUE(parse({"--validate"}).config.validate);
}

TEST(Config, Durations) {
  EXPECT_EQ(parse_duration("1500ms"), milliseconds(1500));
  EXPECT_EQ(parse_duration("30s"), milliseconds(30'000));
  EXPECT_EQ(parse_duration("2m"), milliseconds(120'000));
  EXPECT_EQ(parse_duration("1h"), milliseconds(3'600'000));
  EXPECT_EQ(parse_duration("0s"), milliseconds(0));
  EXPECT_FALSE(parse_duration("30"));
  EXPECT_FALSE(parse_duration("s"));
  EXPECT_FALSE(parse_duration("-1s"));
  EXPECT_FALSE(parse_duration("1.5s"));
  EXPECT_FALSE(parse_duration("1 s"));
  EXPECT_FALSE(parse_duration("1d"));
  EXPECT_FALSE(parse_duration("99999999999999s"));
  auto r = parse({"--flow-active-timeout=90s", "--pod-grace-period=0s", "--capture-max-duration=1h"});
  ASSERT_EQ(r.exit_code, -1) << r.err;
  EXPECT_EQ(r.config.flow_active_timeout, milliseconds(90'000));
  EXPECT_EQ(r.config.pod_grace_period, milliseconds(0));
  EXPECT_EQ(config_to_json(r.config)["capture-max-duration"], "1h");
  EXPECT_EQ(config_to_json(r.config)["flow-active-timeout"], "90s");
}

TEST(Config, ListsAndListenAddresses) {
  auto r = parse({"--physical-interfaces= eth0, ens5 ,", "--capture-ports=span0",
                  "--tunnel-ports=", "--metrics-listen=[::]:9100", "--api-listen=localhost:8080"});
  ASSERT_EQ(r.exit_code, -1) << r.err;
  EXPECT_EQ(r.config.physical_interfaces, (std::vector<std::string>{"eth0", "ens5"}));
  EXPECT_EQ(r.config.capture_ports, (std::vector<std::string>{"span0"}));
  EXPECT_TRUE(r.config.tunnel_ports.empty());
  EXPECT_EQ(r.config.metrics_listen, (HostPort{"::", 9100}));
  EXPECT_EQ(r.config.metrics_listen.str(), "[::]:9100");
  EXPECT_EQ(r.config.api_listen, (HostPort{"localhost", 8080}));
}

TEST(Config, HelpListsEveryFieldWithItsEnvironmentVariable) {
  auto r = parse({"--sample-rate=bad", "--help"});  // --help wins over bad values
  EXPECT_EQ(r.exit_code, 0);
  for (const auto& name : config_field_names()) {
    EXPECT_NE(r.out.find("  --" + name), std::string::npos) << name;
    std::string var = "NETRING_";
    for (char ch : name) var += ch == '-' ? '_' : static_cast<char>(std::toupper(ch));
    EXPECT_NE(r.out.find("env " + var), std::string::npos) << var;
  }
  EXPECT_EQ(config_field_names().size(), 53u);  // every field of the schema (agent/config.cpp) except help/version
  EXPECT_NE(r.out.find("--version"), std::string::npos);
  EXPECT_NE(r.out.find("one of node, namespace, workload, pod; default workload"), std::string::npos);
  EXPECT_EQ(parse({"-h"}).out, r.out);
}

TEST(Config, Version) {
  auto r = parse({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, std::string("netring-agent ") + NETRING_VERSION + "\n");
}

TEST(Config, EffectiveConfigAsJsonRoundTripsThroughAConfigFile) {
  auto r = parse({"--sample-rate=9", "--label-level=pod", "--physical-interfaces=eth0", "--api-listen=[::1]:9000",
                  "--flow-idle-timeout=45s", "--kubeconfig=/root/.kube/config", "--log-format=json",
                  "--ipfix-collector=[::1]:4739", "--ipfix-fields=kubernetes,totals", "--ipfix-active-interval=0s"});
  ASSERT_EQ(r.exit_code, -1) << r.err;
  auto j = config_to_json(r.config);
  j.erase("config");
  TempFile f(j.dump());
  auto r2 = parse({"--config=" + f.path()}, {}, "other-host");
  ASSERT_EQ(r2.exit_code, -1) << r2.err;
  auto j2 = config_to_json(r2.config);
  j2.erase("config");
  EXPECT_EQ(j, j2);
}

TEST(Config, SnapLenBeyondOneAfXdpFrameIsRefusedWithBackendAfxdp) {
  // A sample (56-byte header + snap length) travels in one AF_XDP frame.
  auto r = parse({"--backend=afxdp", "--snap-len=3465"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("netring-agent: --snap-len: 3465 exceeds what one AF_XDP frame carries", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("64..3464"), std::string::npos) << r.err;
  EXPECT_EQ(parse({"--backend=afxdp", "--snap-len=3464"}).exit_code, -1);
  // auto takes the TPACKET_V3 rung for it; afpacket has no such bound.
  EXPECT_EQ(parse({"--snap-len=9000"}).exit_code, -1);
  EXPECT_EQ(parse({"--backend=afpacket", "--snap-len=65535"}).exit_code, -1);
  // Whichever source set them.
  Env env;
  env.vars["NETRING_BACKEND"] = "afxdp";
  EXPECT_EQ(parse({"--snap-len=4000"}, env).exit_code, 2);
}

TEST(Config, TunnelPortsBeyondTheParsersSlotsAreRefused) {
  EXPECT_EQ(parse({"--tunnel-ports=4789,8472,6081,51820,1,2"}).exit_code, -1);  // 4 VXLAN, 1 Geneve
  auto r = parse({"--tunnel-ports=4789,8472,1,2,3"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("netring-agent: --tunnel-ports: at most 4 VXLAN ports", 0), 0u) << r.err;
  EXPECT_EQ(tunnel_parser_ports({4789, 6081, 51820, 8472, 4789}, false), (std::vector<uint16_t>{4789, 8472}));
  EXPECT_EQ(tunnel_parser_ports({4789, 6081, 51820, 8472}, true), (std::vector<uint16_t>{6081}));
}

TEST(Config, CapturePortFields) {
  auto r = parse({"--capture-ports=span0,tap1", "--capture-sample-rate=64", "--capture-xdp-mode=generic"});
  ASSERT_EQ(r.exit_code, -1) << r.err;
  EXPECT_EQ(r.config.capture_ports, (std::vector<std::string>{"span0", "tap1"}));
  EXPECT_EQ(r.config.capture_sample_rate, 64u);
  EXPECT_EQ(r.config.capture_xdp_mode, CaptureXdpMode::kGeneric);
  EXPECT_EQ(config_to_json(r.config)["capture-xdp-mode"], "generic");
}

TEST(Config, IpfixCollectorIsOptionalAndFieldsAreASubset) {
  auto r = parse(
      {"--ipfix-collector=collector.example:2055", "--ipfix-fields=accuracy,totals,accuracy", "--ipfix-transport=tcp"});
  ASSERT_EQ(r.exit_code, -1) << r.err;
  EXPECT_EQ(r.config.ipfix_collector, (HostPort{"collector.example", 2055}));
  EXPECT_EQ(r.config.ipfix_transport, IpfixTransport::kTcp);
  EXPECT_EQ(r.config.ipfix_fields, (std::vector<std::string>{"accuracy", "totals"}));  // duplicates once
  auto none = parse({"--ipfix-fields="});
  ASSERT_EQ(none.exit_code, -1) << none.err;
  EXPECT_TRUE(none.config.ipfix_fields.empty());
  // Empty is allowed only where the default is empty (the collector), not for the listeners.
  EXPECT_EQ(parse({"--ipfix-collector="}).exit_code, -1);
  EXPECT_EQ(parse({"--metrics-listen="}).exit_code, 2);
  TempFile f(R"({"ipfix-fields": ["interfaces", "kubernetes"], "ipfix-collector": "127.0.0.1:4739"})");
  auto rf = parse({"--config=" + f.path()});
  ASSERT_EQ(rf.exit_code, -1) << rf.err;
  EXPECT_EQ(rf.config.ipfix_fields, (std::vector<std::string>{"interfaces", "kubernetes"}));
}

}  // namespace
