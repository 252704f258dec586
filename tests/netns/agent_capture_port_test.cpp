// netring-agent itself with --capture-ports, in a namespace of its own: a
// generator in another namespace sends an exact number of frames over a
// veth whose far end is the capture port, and the agent must count exactly
// those, in /api/v1/interfaces, /api/v1/flows (by flow, reporter
// "capture") and /metrics; the port is never hooked by the TC sampler; the
// fallbacks (generic XDP asked for, TPACKET_V3 when the agent runs without
// CAP_BPF) count the same; a port that appears later is attached, one that
// goes is released, and a SIGKILL leaves no program behind, so a restart
// has exactly one. Also the agent's kernel flow map sizing, and its log
// options.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <optional>
#include <regex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/testing/frame_generator.hpp"
#include "tests/testing/netns.hpp"

namespace {

using json = nlohmann::json;
using netring::testing::Netns;
using netring::testing::VethOptions;
using netring::testing::VethPair;

constexpr std::size_t kFrameSize = 200;

class Agent {
 public:
  // `prefix`: put before the agent (e.g. a setpriv dropping capabilities).
  Agent(const Netns& ns, const std::string& args, const std::string& prefix = "") : ns_(ns) {
    log_ = "/tmp/netring-agent-test-" + std::to_string(::getpid()) + "-" + std::to_string(++count_) + ".log";
    proc_ = ns.spawn("exec " + prefix +
                     " " NETRING_AGENT_BIN
                     " --node-name=capture-test --kube-api=off --log-level=debug"
                     " --metrics-listen=127.0.0.1:9990 --api-listen=127.0.0.1:9991 " +
                     args + " >" + log_ + " 2>&1");
  }
  ~Agent() {
    proc_.stop();
    if (::testing::Test::HasFailure()) std::fprintf(stderr, "--- agent log\n%s\n", log().c_str());
    std::remove(log_.c_str());
  }
  bool wait_ready() const {
    return poll([&] { return ns_.run("curl -sf --max-time 2 http://127.0.0.1:9990/readyz").ok(); });
  }
  json get(const std::string& path) const {
    auto r = ns_.run("curl -sf --max-time 5 'http://127.0.0.1:9991" + path + "'");
    if (!r.ok()) return json();
    return json::parse(r.output, nullptr, false);
  }
  std::string metrics() const { return ns_.run("curl -sf --max-time 5 http://127.0.0.1:9990/metrics").output; }
  std::string log() const { return netring::testing::sh("cat " + log_).output; }
  void kill_hard() {
    ::kill(proc_.pid(), SIGKILL);
    proc_.wait();
  }
  // The port's entry in /api/v1/interfaces, or null.
  json port(const std::string& name) const {
    json j = get("/api/v1/interfaces");
    if (j.is_object())
      for (const auto& i : j["interfaces"])
        if (i["name"] == name) return i;
    return json();
  }
  static bool poll(const std::function<bool()>& cond, int seconds = 30) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      if (cond()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }

 private:
  static inline int count_ = 0;
  const Netns& ns_;
  std::string log_;
  Netns::Process proc_;
};

// The sum of a metric's samples whose labels contain every `must` fragment.
double metric_sum(const std::string& text, const std::string& name, const std::vector<std::string>& must) {
  double sum = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + "{", 0) != 0) continue;
    bool all = true;
    for (const auto& m : must) all = all && line.find(m) != std::string::npos;
    if (all) sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

// A node (the agent's namespace) whose capture port is the far end of a
// veth from the generator's namespace: the port's peer lives in another
// namespace, so without --capture-ports discovery would take it for a pod veth.
struct Node {
  explicit Node(int queues = 1) {
    netring::testing::quiet_ipv6(gen);
    VethOptions vo;
    vo.queues = queues;
    link.emplace(gen, node, vo);
  }
  Netns gen{"gn"}, node{"gm"};
  std::optional<VethPair> link;
  const std::string& port() const { return link->name_b(); }
  std::size_t send(const std::vector<std::vector<std::uint8_t>>& frames) const {
    return netring::testing::send_paced(gen, link->name_a(), frames);
  }
};

// Waits until the port has counted `n` frames, then for one more round
// (nothing more may arrive), and returns its entry.
json settled_port(const Agent& a, const std::string& port, std::uint64_t n) {
  json p;
  Agent::poll([&] {
    p = a.port(port);
    return p.is_object() && p["rx_packets"].get<std::uint64_t>() >= n &&
           p["capture"]["sampled"].get<std::uint64_t>() + p["capture"]["sampled_out"].get<std::uint64_t>() +
                   p["capture"]["lost"].get<std::uint64_t>() >=
               n;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // two publications later
  return a.port(port);
}

// The capture flows of the generator's flows, by UDP destination port.
std::map<int, json> capture_flows(const Agent& a) {
  std::map<int, json> out;
  json j = a.get("/api/v1/flows?reporter=capture&limit=10000");
  if (!j.is_object()) return out;
  for (const auto& f : j["flows"])
    if (f["src"]["ip"] == "10.0.0.1" && f["dst"]["ip"] == "10.0.0.2") out[f["dst"]["port"].get<int>()] = f;
  return out;
}

TEST(AgentCapturePort, CountsExactlyTheFramesSentInApiFlowsAndMetrics) {
  Node n(2);
  // Every packet the sampler sees counted in the kernel: none of the port's.
  Agent a(n.node, "--capture-ports=" + n.port() + " --sample-rate=1 --exact-flows=all");
  ASSERT_TRUE(a.wait_ready());
  ASSERT_TRUE(Agent::poll([&] { return a.port(n.port()).is_object(); })) << "port not attached";
  constexpr int kFlows = 6, kPerFlow = 500;
  const auto frames = netring::testing::udp_flow_frames(kFlows, kPerFlow, kFrameSize);
  ASSERT_EQ(n.send(frames), frames.size());
  const json p = settled_port(a, n.port(), frames.size());
  ASSERT_TRUE(p.is_object());
  EXPECT_EQ(p["role"], "capture-port");
  EXPECT_EQ(p["backend"], "afxdp");
  EXPECT_EQ(p["hook"], "xdp");
  EXPECT_EQ(p["rx_packets"], frames.size());
  EXPECT_EQ(p["rx_bytes"], frames.size() * kFrameSize);
  EXPECT_EQ(p["rx_wire_bytes"], frames.size() * kFrameSize);
  EXPECT_EQ(p["capture"]["xdp_mode"], "native");
  EXPECT_EQ(p["capture"]["queues"], 2) << "one socket per RX queue";
  EXPECT_EQ(p["capture"]["sample_rate"], 1);
  EXPECT_EQ(p["capture"]["sampled"], frames.size());
  EXPECT_EQ(p["capture"]["sampled_out"], 0);
  EXPECT_EQ(p["capture"]["lost"], 0) << p.dump();

  // By flow: each of the generator's flows once, with its exact count.
  auto flows = capture_flows(a);
  ASSERT_EQ(flows.size(), static_cast<std::size_t>(kFlows));
  for (int i = 0; i < kFlows; ++i) {
    const json& f = flows[netring::testing::kGenDportBase + i];
    EXPECT_EQ(f["src"]["port"], netring::testing::kGenSportBase + i);
    EXPECT_EQ(f["protocol"], "udp");
    EXPECT_EQ(f["reporter"], "capture");
    EXPECT_DOUBLE_EQ(f["packets"].get<double>(), kPerFlow);
    EXPECT_EQ(f["samples"], kPerFlow);
    EXPECT_DOUBLE_EQ(f["wire_bytes"].get<double>(), kPerFlow * double(kFrameSize));
    EXPECT_DOUBLE_EQ(f["bytes_stderr"].get<double>(), 0.0) << "every frame taken: exact";
    EXPECT_EQ(f["interfaces"], json::array({n.port()}));
  }
  // Nothing of it reported as this node's own traffic.
  json own = a.get("/api/v1/flows?ip=10.0.0.2&reporter=destination");
  EXPECT_EQ(own["count"], 0);

  const std::string m = a.metrics();
  EXPECT_EQ(metric_sum(m, "netring_interface_packets_total",
                       {"interface=\"" + n.port() + "\"", "role=\"capture-port\"", "direction=\"rx\""}),
            double(frames.size()))
      << m;
  EXPECT_EQ(metric_sum(m, "netring_capture_port_sampled_total", {"interface=\"" + n.port() + "\""}),
            double(frames.size()));
  EXPECT_EQ(metric_sum(m, "netring_flow_packets_total", {"reporter=\"capture\"", "protocol=\"udp\""}),
            double(frames.size()));
  EXPECT_EQ(metric_sum(m, "netring_capture_port_info", {"xdp_mode=\"native\"", "backend=\"afxdp\""}), 1.0);
  EXPECT_EQ(metric_sum(m, "netring_capture_port_lost_total", {"interface=\"" + n.port() + "\""}), 0.0);

  json st = a.get("/api/v1/status");
  bool capture_losses = false;
  for (const auto& l : st["samples"]["lost_by_reason"]) capture_losses |= l["stage"] == "capture_port";
  EXPECT_TRUE(capture_losses) << st.dump();
  EXPECT_GE(st["samples"]["received"].get<std::uint64_t>(), frames.size());
  // The kernel's exact flow counts are the TC sampler's: it counted none of
  // the port's frames (and nothing else is hooked in this namespace).
  EXPECT_EQ(st["exact_flows"]["mode"], "all") << st.dump();
  EXPECT_EQ(st["exact_flows"]["counted_skbs"], 0) << st.dump();
  EXPECT_EQ(st["memory"]["umem_bytes_per_worker"].size(), 3u) << "one mirror worker, two capture workers";

  // The TC sampler never hooked the port, and the XSKMAP program is there once.
  // (bpftool 7.1 does not list tcx links: tcx_count.py asks the kernel.)
  EXPECT_EQ(n.node.run_ok("python3 " NETRING_SOURCE_DIR "/e2e/lib/tcx_count.py " + n.port()), "0 0\n");
  EXPECT_EQ(n.node.run_ok("tc filter show dev " + n.port() + " ingress"), "");
  EXPECT_EQ(n.node.run_ok("tc filter show dev " + n.port() + " egress"), "");
  EXPECT_NE(a.log().find("role=capture-port"), std::string::npos);
}

TEST(AgentCapturePort, SampleRateKeepsOneInNAndTheCountStaysExact) {
  Node n;
  Agent a(n.node, "--capture-ports=" + n.port() + " --capture-sample-rate=8");
  ASSERT_TRUE(a.wait_ready());
  ASSERT_TRUE(Agent::poll([&] { return a.port(n.port()).is_object(); }));
  const auto frames = netring::testing::udp_flow_frames(2, 4000, 100);  // 8000
  ASSERT_EQ(n.send(frames), frames.size());
  const json p = settled_port(a, n.port(), frames.size());
  EXPECT_EQ(p["rx_packets"], frames.size());
  EXPECT_EQ(p["capture"]["sample_rate"], 8);
  const auto sampled = p["capture"]["sampled"].get<std::uint64_t>();
  EXPECT_EQ(sampled + p["capture"]["sampled_out"].get<std::uint64_t>(), frames.size());
  // Binomial(8000, 1/8): mean 1000, sd 30.
  EXPECT_GT(sampled, 700u);
  EXPECT_LT(sampled, 1300u);
  double packets = 0;
  for (const auto& [port, f] : capture_flows(a)) {
    packets += f["packets"].get<double>();
    EXPECT_GT(f["bytes_stderr"].get<double>(), 0.0) << "sampled: an estimate";
  }
  EXPECT_DOUBLE_EQ(packets, 8.0 * double(sampled)) << "each sample stands for 8 frames";
}

TEST(AgentCapturePort, GenericXdpWhenAsked) {
  Node n;
  Agent a(n.node, "--capture-ports=" + n.port() + " --capture-xdp-mode=generic");
  ASSERT_TRUE(a.wait_ready());
  ASSERT_TRUE(Agent::poll([&] { return a.port(n.port()).is_object(); }));
  const auto frames = netring::testing::udp_flow_frames(2, 300, kFrameSize);
  ASSERT_EQ(n.send(frames), frames.size());
  const json p = settled_port(a, n.port(), frames.size());
  EXPECT_EQ(p["rx_packets"], frames.size());
  EXPECT_EQ(p["capture"]["xdp_mode"], "generic");
  EXPECT_NE(p["capture"]["reason"].get<std::string>().find("generic mode requested"), std::string::npos);
  EXPECT_NE(n.node.run_ok("ip link show dev " + n.port()).find("xdpgeneric"), std::string::npos);
  EXPECT_EQ(capture_flows(a).size(), 2u);
  EXPECT_NE(a.log().find("xdp_mode=generic"), std::string::npos);
}

// The agent in a child whose capability bounding set lacks CAP_BPF (and
// CAP_SYS_ADMIN, CAP_PERFMON, which would stand in for it): no program can
// be loaded, the port is read with TPACKET_V3 and counted by the device.
TEST(AgentCapturePort, WithoutCapBpfTpacketCountsTheSameFrames) {
  Node n(2);
  Agent a(n.node, "--capture-ports=" + n.port(), "setpriv --bounding-set=-bpf,-sys_admin,-perfmon");
  ASSERT_TRUE(a.wait_ready()) << a.log();
  ASSERT_TRUE(Agent::poll([&] { return a.port(n.port()).is_object(); }));
  const auto frames = netring::testing::udp_flow_frames(4, 400, kFrameSize);
  ASSERT_EQ(n.send(frames), frames.size());
  const json p = settled_port(a, n.port(), frames.size());
  EXPECT_EQ(p["backend"], "afpacket");
  EXPECT_EQ(p["hook"], "tpacket");
  EXPECT_TRUE(p["capture"]["xdp_mode"].is_null());
  EXPECT_NE(p["capture"]["reason"].get<std::string>().find("CAP_BPF"), std::string::npos) << p.dump();
  EXPECT_EQ(p["capture"]["queues"], 2) << "a fanout member per queue";
  EXPECT_EQ(p["rx_packets"], frames.size());
  EXPECT_EQ(p["capture"]["sampled"], frames.size());
  auto flows = capture_flows(a);
  ASSERT_EQ(flows.size(), 4u);
  for (const auto& [port, f] : flows) EXPECT_DOUBLE_EQ(f["packets"].get<double>(), 400);
  EXPECT_EQ(n.node.run_ok("ip link show dev " + n.port()).find("xdp"), std::string::npos);
}

TEST(AgentCapturePort, HotPlugAttachesAndReleasesAndSigkillLeavesNoProgram) {
  Netns gen("hg"), node("hn");
  netring::testing::quiet_ipv6(gen);
  const std::string port = netring::testing::unique_ifname('p'), peer = netring::testing::unique_ifname('q');
  auto make_link = [&] {
    netring::testing::sh_ok("ip link add " + port + " netns " + node.name() + " type veth peer name " + peer +
                            " netns " + gen.name());
    node.run_ok("ip link set " + port + " up");
    gen.run_ok("ip link set " + peer + " up");
  };
  auto programs = [&] {
    const std::string out = node.run("ip -d link show dev " + port).output;
    std::size_t count = 0;
    for (std::size_t at = out.find("prog/xdp"); at != std::string::npos; at = out.find("prog/xdp", at + 1)) ++count;
    return count;
  };
  {
    Agent a(node, "--capture-ports=" + port);
    ASSERT_TRUE(a.wait_ready());
    EXPECT_TRUE(a.port(port).is_null());
    make_link();  // appears while the agent runs
    ASSERT_TRUE(Agent::poll([&] { return a.port(port).is_object(); })) << "not attached when it appeared";
    const auto frames = netring::testing::udp_flow_frames(2, 100, kFrameSize);
    ASSERT_EQ(netring::testing::send_paced(gen, peer, frames), frames.size());
    EXPECT_EQ(settled_port(a, port, frames.size())["rx_packets"], frames.size());

    node.run_ok("ip link del " + port);  // goes away
    ASSERT_TRUE(Agent::poll([&] { return a.port(port).is_null(); })) << "not released";
    EXPECT_NE(a.log().find("capture port released"), std::string::npos);
    // Its flows ended, their counts stay.
    Agent::poll([&] { return capture_flows(a).empty(); });
    EXPECT_EQ(metric_sum(a.metrics(), "netring_flow_packets_total", {"reporter=\"capture\""}), double(frames.size()));

    make_link();  // and back
    ASSERT_TRUE(Agent::poll([&] { return a.port(port).is_object(); })) << "not attached again";
    EXPECT_EQ(programs(), 1u);
    a.kill_hard();
    // The program hung on the agent's bpf_link: gone with the process.
    EXPECT_EQ(programs(), 0u) << node.run("ip -d link show dev " + port).output;
  }
  Agent again(node, "--capture-ports=" + port);
  ASSERT_TRUE(again.wait_ready());
  ASSERT_TRUE(Agent::poll([&] { return again.port(port).is_object(); }));
  EXPECT_EQ(programs(), 1u) << "exactly one program after a restart";
  const auto frames = netring::testing::udp_flow_frames(1, 50, kFrameSize);
  ASSERT_EQ(netring::testing::send_paced(gen, peer, frames), frames.size());
  EXPECT_EQ(settled_port(again, port, frames.size())["rx_packets"], frames.size());
}

// --log-format and --log-level reach the agent's log (main() applies them
// before anything else logs).
// The kernel's flow maps start at 16,384 flows a period (below the default
// --flow-table-size of 65,536). 40,000 flows through a hooked pod veth fill
// the one counting, whose overflow goes to the estimator and is said to;
// the agent then replaces it by one four times larger, which comes round
// to count the next period.
TEST(AgentExactFlows, AKernelFlowMapThatFillsIsReplacedByALargerOne) {
  Node n;
  // No --capture-ports: the node's end of the veth is a pod veth, hooked.
  Agent a(n.node, "--exact-flows=all");
  ASSERT_TRUE(a.wait_ready());
  ASSERT_TRUE(Agent::poll([&] {
    json st = a.get("/api/v1/status");
    return st.is_object() && st["exact_flows"]["map_capacity"] == 16384;
  })) << a.get("/api/v1/status").dump();
  const auto frames = netring::testing::udp_flow_frames(40000, 1, 64);
  ASSERT_EQ(netring::testing::send_paced(n.gen, n.link->name_a(), frames, 0), frames.size());
  json ex;
  EXPECT_TRUE(Agent::poll(
      [&] {
        ex = a.get("/api/v1/status")["exact_flows"];
        return ex.is_object() && ex["map_capacity"] == 65536;
      },
      10))
      << ex.dump();
  EXPECT_GE(ex["map_resizes"].get<std::uint64_t>(), 1u) << ex.dump();
  EXPECT_GT(ex["uncounted_skbs"]["map_full"].get<std::uint64_t>(), 0u) << ex.dump();
  EXPECT_GE(ex["counted_skbs"].get<std::uint64_t>(), 16384u) << ex.dump();
  EXPECT_EQ(ex["drain_errors"], 0) << ex.dump();
}

TEST(AgentOptions, LogFormatAndLevelShapeTheLog) {
  Netns ns("lg");
  {
    Agent a(ns, "--log-format=json --log-level=info");
    ASSERT_TRUE(a.wait_ready());
    const std::string log = a.log();
    const std::string first = log.substr(0, log.find('\n'));
    const json j = json::parse(first, nullptr, false);
    ASSERT_TRUE(j.is_object()) << "not JSON: " << first;
    EXPECT_EQ(j["msg"], "starting");
    EXPECT_EQ(j["level"], "info");
  }
  Agent quiet(ns, "--log-format=logfmt --log-level=warn");
  ASSERT_TRUE(quiet.wait_ready());
  const std::string log = quiet.log();
  EXPECT_EQ(log.find("level=info"), std::string::npos) << log;
  EXPECT_EQ(log.find("level=debug"), std::string::npos) << log;
}

}  // namespace
