// Kernel time per packet of the flow programs alone, netring's sampler
// against NetObserv's TC programs, on the same 64-byte UDP frames over N
// flows (figure 9's small-packet workload), without traffic, scheduling or
// the machine's other work in the figure: every frame is run through each
// side's programs with BPF_PROG_TEST_RUN, as it would pass the sender's
// host veth (TC ingress, where it is counted) and at once the receiver's
// (TC egress, forwarded). Figure 9 measures what the pods pay in busy CPU; its
// differences are a few per cent of a saturated CPU and move between runs
// (bench/results/ANALYSIS.md section 9). This one isolates the programs'
// own cost, the part a change to bpf/ moves.
//
//   flow_program_bench AGENT NETOBSERV_DIR [--flows N] [--rounds R]
//                      [--passes P] [--workload udp|tcp] [--compare AGENT2]
//                      [--json FILE]
//
// --workload tcp runs figure 9's bulk TCP instead, per flow: a sender's
// segment (ACK without PSH, 1448 bytes of payload, gso_segs 44 as a TSO skb
// has; no gso_size, so that a copy of it can be sent) and the receiver's
// pure ACK back, after a SYN-ACK per flow in each round's warm-up (the
// connections' handshakes within the last seconds, as on a node where
// connections open all the time).
//
// Each side runs as it does in figure 9: the real netring-agent (default and
// --exact-flows=all) hooking a veth pair in a namespace of its own, and
// NetObserv's loader (NETOBSERV_DIR/nobs_loader with NETOBSERV_DIR/flows.o,
// what bench/pod_cost.sh builds into BUILD/peers/netobserv) at sampling 50
// and 1 on another; they keep draining their maps (1 s, 5 s) while the
// bench runs their programs by id. Per round, after a warm-up pass each (the
// flows are then in the maps), P passes over the N frames per side,
// interleaved with an empty TC program's, in an order rotated every pass; a
// pass's time is the kernel's own duration of each run (repeat 1), and a
// side's figure is its time per packet minus the empty program's. Printed:
// the median of the rounds per side, ns per packet (ingress + egress), and
// the median over the rounds of each round's ratio netring default /
// NetObserv-50 and most detailed / NetObserv-1. --compare runs a second
// netring-agent's two configurations beside the first (an A/B of a change to
// bpf/, in the same run) and prints their ratios to the first's.
//
// Each run is a system call of its own: the program's code and its small
// maps are colder than between two packets of a NAPI batch, so the figures
// are higher than figure 9's statistics pass (bpf stats under traffic), the
// more so for the side that touches more maps per packet. And the agent
// empties its flow map every second, so at the few tens of thousands of runs
// a second a side gets here, a third of netring's counted cold runs insert
// their flow (printed), against about one in a hundred under figure 9's
// traffic: the cold figure is netring's upper bound, the warm one (no
// inserts, everything in cache) its lower. Not included:
// netring's drop tracer (a tracepoint; the statistics pass times it) and the
// sampled copies' path past the sampler.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <bpf/bpf.h>
#include <unistd.h>

#include "tests/testing/bpf_prog_run.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/packet_builder.hpp"

namespace {

using netring::testing::Netns;
using netring::testing::PacketBuilder;
using netring::testing::VethPair;

struct Options {
  std::string agent, nobs_dir, json, compare;
  int flows = 10000, rounds = 5, passes = 3;
  bool tcp = false;  // --workload tcp
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "flow_program_bench: %s\nusage: flow_program_bench AGENT NETOBSERV_DIR [--flows N] [--rounds R>=5] "
               "[--passes P] [--workload udp|tcp] [--compare AGENT2] [--json FILE]\n",
               why.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  std::vector<std::string> pos;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    auto number = [&](int min) {
      std::string v = value();
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < min || n > 1'000'000) usage(a + ": not a number >= " + std::to_string(min));
      return static_cast<int>(n);
    };
    if (a == "--flows")
      o.flows = number(1);
    else if (a == "--rounds")
      o.rounds = number(5);
    else if (a == "--passes")
      o.passes = number(1);
    else if (a == "--json")
      o.json = value();
    else if (a == "--compare")
      o.compare = value();
    else if (a == "--workload") {
      const std::string w = value();
      if (w != "udp" && w != "tcp") usage("--workload: udp or tcp, not " + w);
      o.tcp = w == "tcp";
    } else if (!a.empty() && a[0] == '-')
      usage("unknown option " + a);
    else
      pos.push_back(a);
  }
  if (pos.size() != 2) usage("AGENT and NETOBSERV_DIR are required");
  o.agent = pos[0];
  o.nobs_dir = pos[1];
  return o;
}

// Ids of the loaded programs named `name` (the kernel keeps 15 characters).
std::set<std::uint32_t> prog_ids(const std::string& name) {
  std::set<std::uint32_t> out;
  for (std::uint32_t id = 0; bpf_prog_get_next_id(id, &id) == 0;) {
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) continue;
    bpf_prog_info info{};
    std::uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && name.compare(0, 15, info.name) == 0) out.insert(id);
    ::close(fd);
  }
  return out;
}

// An owned program fd, by id.
struct ProgFd {
  int fd = -1;
  ProgFd() = default;
  explicit ProgFd(std::uint32_t id) : fd(bpf_prog_get_fd_by_id(id)) {}
  ProgFd(ProgFd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  ProgFd& operator=(ProgFd&& o) noexcept {
    std::swap(fd, o.fd);
    return *this;
  }
  ~ProgFd() {
    if (fd >= 0) ::close(fd);
  }
};

// The reference for a run's fixed cost (the test run's own clock reads and
// context): a TC program that only returns TC_ACT_UNSPEC.
ProgFd empty_program() {
  const bpf_insn insns[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = TC_ACT_UNSPEC},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  ProgFd p;
  p.fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "empty", "GPL", insns, 2, nullptr);
  if (p.fd < 0) throw std::runtime_error(std::string("bpf_prog_load (empty program): ") + std::strerror(errno));
  return p;
}

// One side: a namespace with the veth pair its process hooks, the process,
// and its ingress and egress programs.
struct Side {
  std::string key, label;
  bool netring = false;
  std::string not_measured;  // why there is no figure, when there is none
  std::unique_ptr<Netns> ns;
  std::unique_ptr<VethPair> veth;
  Netns::Process proc;
  std::string log;
  ProgFd ingress, egress;
  int if_in = 0, if_out = 0;             // the sender's host veth, the receiver's
  std::vector<double> ns_in, ns_eg;      // per round, per packet, net of the empty program
  std::vector<double> warm_in, warm_eg;  // the same, one frame repeated (warm)
};

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string tail(const std::string& s) {
  return s.size() > 400 ? s.substr(s.size() - 400) : s;
}

// Waits until fn() is true (100 ms steps); false after `seconds`.
template <class F>
bool wait_for(F&& fn, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fn()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

void make_namespace(Side& s) {
  s.ns = std::make_unique<Netns>(s.key.substr(0, 6));
  s.veth = std::make_unique<VethPair>(*s.ns, *s.ns);
  s.if_in = s.veth->ifindex_a();
  s.if_out = s.veth->ifindex_b();
  s.log = "/tmp/flow_program_bench." + std::to_string(::getpid()) + "." + s.key + ".log";
}

// A test run frees its skb with kfree_skb(): every agent's drop tracer would
// fire after every run, and their work would evict what the next run needs.
// The sampler is the same program either way.
constexpr const char* kNoKernelEvents = "--drops=off --tcp-retransmits=off ";

// netring-agent on the pair; its programs are the sampler_* loaded after it started.
void start_netring(Side& s, const std::string& agent, const std::string& flags) {
  make_namespace(s);
  const auto before_in = prog_ids("sampler_ingress"), before_eg = prog_ids("sampler_egress");
  s.proc = s.ns->spawn(agent + " --node-name=bench --kube-api=off --interfaces-include='^(" + s.veth->name_a() + "|" +
                       s.veth->name_b() + ")$' --metrics-listen=127.0.0.1:19490 --api-listen=127.0.0.1:19491 " +
                       kNoKernelEvents + flags + " > " + s.log + " 2>&1");
  const std::string names[] = {s.veth->name_a(), s.veth->name_b()};
  bool hooked = wait_for(
      [&] {
        auto r = s.ns->run("curl -sf http://127.0.0.1:19491/api/v1/interfaces");
        if (!r.ok()) return false;
        auto j = nlohmann::json::parse(r.output, nullptr, false);
        if (j.is_discarded()) return false;
        const auto& items = j.is_object() && j.contains("interfaces") ? j["interfaces"] : j;
        int n = 0;
        for (const auto& i : items)
          if (i.contains("hook") && i["hook"].is_string() && !i["hook"].get<std::string>().empty() &&
              (i.value("name", "") == names[0] || i.value("name", "") == names[1]))
            ++n;
        return n == 2;
      },
      60);
  if (!hooked) throw std::runtime_error("netring-agent " + flags + " did not hook both veths: " + tail(slurp(s.log)));
  std::optional<std::uint32_t> in, eg;
  for (auto id : prog_ids("sampler_ingress"))
    if (!before_in.contains(id)) in = id;
  for (auto id : prog_ids("sampler_egress"))
    if (!before_eg.contains(id)) eg = id;
  if (!in || !eg) throw std::runtime_error("netring-agent " + flags + ": its sampler programs were not found");
  s.ingress = ProgFd(*in);
  s.egress = ProgFd(*eg);
}

// NetObserv's loader on the pair: it prints its programs' ids once attached.
void start_netobserv(Side& s, const Options& o, int sampling) {
  const std::string loader = o.nobs_dir + "/nobs_loader", obj = o.nobs_dir + "/flows.o";
  if (::access(loader.c_str(), X_OK) != 0 || ::access(obj.c_str(), R_OK) != 0) {
    s.not_measured = "not measured: " + loader + " or " + obj +
                     " not present (bench/pod_cost.sh builds them into BUILD/peers/netobserv)";
    return;
  }
  make_namespace(s);
  // Sampling, and eviction every 5 s: the Go agent's defaults (bench/pod_cost.py).
  s.proc = s.ns->spawn(loader + " " + obj + " " + std::to_string(sampling) + " 5 " + s.veth->name_a() + " " +
                       s.veth->name_b() + " > " + s.log + " 2>&1");
  unsigned in = 0, eg = 0;
  bool up = wait_for(
      [&] {
        const std::string l = slurp(s.log);
        auto at = l.find("ids prog_in=");
        return at != std::string::npos && std::sscanf(l.c_str() + at, "ids prog_in=%u prog_out=%u", &in, &eg) == 2;
      },
      30);
  if (!up) throw std::runtime_error("nobs_loader did not attach: " + tail(slurp(s.log)));
  s.ingress = ProgFd(in);
  s.egress = ProgFd(eg);
}

// A frame and the GSO segment count its skb claims (0: a single frame).
struct Frame {
  std::vector<std::uint8_t> bytes;
  std::uint32_t gso_segs = 0;
};

std::uint16_t flow_port(int i) {
  return static_cast<std::uint16_t>(1024 + i % 64000);
}

// Frames as figure 9's generator sends them: 64 bytes, one flow per source
// port; with `tcp`, a sender's segment and the receiver's ACK per flow.
std::vector<Frame> frames(int flows, bool tcp) {
  std::vector<Frame> out;
  out.reserve(tcp ? 2 * flows : flows);
  for (int i = 0; i < flows; ++i) {
    if (!tcp) {
      out.push_back({PacketBuilder()
                         .eth()
                         .ipv4("10.77.0.2", "10.77.0.3")
                         .udp(flow_port(i), 9)
                         .payload(64 - 14 - 20 - 8)
                         .build()});
      continue;
    }
    out.push_back(
        {PacketBuilder().eth().ipv4("10.77.0.2", "10.77.0.3").tcp(flow_port(i), 5201, 0x10).payload(1448).build(), 44});
    out.push_back({PacketBuilder().eth().ipv4("10.77.0.3", "10.77.0.2").tcp(5201, flow_port(i), 0x10).build()});
  }
  return out;
}

// The SYN-ACK of each flow's connection (--workload tcp).
std::vector<Frame> handshakes(int flows) {
  std::vector<Frame> out;
  out.reserve(flows);
  for (int i = 0; i < flows; ++i)
    out.push_back({PacketBuilder().eth().ipv4("10.77.0.3", "10.77.0.2").tcp(5201, flow_port(i), 0x12).build()});
  return out;
}

// Sums of the kernel's durations of one run per frame, ns, ingress and
// egress: each frame as it passes a node, through `in` as it enters on
// if_in, then at once through `eg` as it leaves by if_out (forwarded), so
// what the first run brought into cache for the frame's flow the second
// finds there, as under traffic.
struct PassTime {
  double in = 0, eg = 0;
};
PassTime pass(const Netns& ns, int in, int eg, const std::vector<Frame>& pkts, int if_in, int if_out) {
  return ns.within([&] {
    PassTime t;
    auto one = [](int prog, const Frame& p, int ifindex, int ingress_ifindex) {
      __sk_buff ctx{};
      ctx.ifindex = static_cast<std::uint32_t>(ifindex);
      ctx.ingress_ifindex = static_cast<std::uint32_t>(ingress_ifindex);
      ctx.gso_segs = p.gso_segs;
      auto r = netring::testing::prog_run(prog, p.bytes, &ctx, sizeof ctx);
      if (r.err != 0) throw std::runtime_error("BPF_PROG_TEST_RUN: " + std::string(std::strerror(-r.err)));
      if (r.retval != static_cast<std::uint32_t>(TC_ACT_UNSPEC) && r.retval != 0)
        throw std::runtime_error("a program returned " + std::to_string(r.retval) + ": it would end the chain");
      return static_cast<double>(r.duration_ns);
    };
    for (const auto& p : pkts) {
      t.in += one(in, p, if_in, if_in);
      t.eg += one(eg, p, if_out, if_in);
    }
    return t;
  });
}

// The kernel's time per run of `prog` on one frame run kWarmRepeat times in
// one call: its code, its maps and the frame's flow stay in cache.
constexpr int kWarmRepeat = 200000;
double warm(const Netns& ns, int prog, const Frame& pkt, int ifindex, int ingress_ifindex) {
  return ns.within([&] {
    __sk_buff ctx{};
    ctx.ifindex = static_cast<std::uint32_t>(ifindex);
    ctx.ingress_ifindex = static_cast<std::uint32_t>(ingress_ifindex);
    ctx.gso_segs = pkt.gso_segs;
    auto r = netring::testing::prog_run(prog, pkt.bytes, &ctx, sizeof ctx, nullptr, kWarmRepeat);
    if (r.err != 0) throw std::runtime_error("BPF_PROG_TEST_RUN: " + std::string(std::strerror(-r.err)));
    return static_cast<double>(r.duration_ns);
  });
}

// netring-agent's kernel flow counting so far (/api/v1/status): skbs
// counted, map drains, and flows in the latest drain.
struct ExactStats {
  double counted = 0, drains = 0, last_flows = 0;
};
ExactStats exact_stats(const Side& s) {
  auto r = s.ns->run("curl -sf http://127.0.0.1:19491/api/v1/status");
  auto j = nlohmann::json::parse(r.output, nullptr, false);
  if (!r.ok() || j.is_discarded() || !j.contains("exact_flows")) return {};
  const auto& e = j["exact_flows"];
  return {e.value("counted_skbs", 0.0), e.value("drains", 0.0), e.value("flows_last_drain", 0.0)};
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  if (::geteuid() != 0) usage("must run as root (namespaces, BPF)");
  // A deque: the sides' addresses stay put while more are added.
  std::deque<Side> sides;
  auto add = [&](std::string key, std::string label) -> Side& {
    Side& s = sides.emplace_back();
    s.netring = key.starts_with("netring");
    s.key = std::move(key);
    s.label = std::move(label);
    return s;
  };
  start_netring(add("netring-default", "netring default"), o.agent, "");
  start_netring(add("netring-detailed", "netring most detailed (--exact-flows=all)"), o.agent, "--exact-flows=all");
  if (!o.compare.empty()) {
    start_netring(add("netring-default@compare", "netring default, " + o.compare), o.compare, "");
    start_netring(add("netring-detailed@compare", "netring most detailed, " + o.compare), o.compare,
                  "--exact-flows=all");
  }
  start_netobserv(add("netobserv-50", "NetObserv sampling 50"), o, 50);
  start_netobserv(add("netobserv-1", "NetObserv sampling 1"), o, 1);
  std::vector<Side*> measured;
  for (auto& s : sides)
    if (s.not_measured.empty()) measured.push_back(&s);

  const auto pkts = frames(o.flows, o.tcp);
  const auto synacks = o.tcp ? handshakes(o.flows) : std::vector<Frame>{};
  const ProgFd empty = empty_program();
  const double n = static_cast<double>(pkts.size()) * o.passes;
  std::vector<double> empty_ns, empty_warm_ns;
  std::map<Side*, ExactStats> exact_before;
  for (Side* s : measured)
    if (s->netring) exact_before[s] = exact_stats(*s);
  std::printf("flow_program_bench: %s, %d flows, %d rounds x %d passes, %zu sides\n", o.tcp ? "tcp" : "udp", o.flows,
              o.rounds, o.passes, measured.size());
  for (int r = 0; r < o.rounds; ++r) {
    for (Side* s : measured) {  // warm-up: the flows are in the maps, their handshakes recent
      if (!synacks.empty()) (void)pass(*s->ns, s->ingress.fd, s->egress.fd, synacks, s->if_in, s->if_out);
      (void)pass(*s->ns, s->ingress.fd, s->egress.fd, pkts, s->if_in, s->if_out);
    }
    // Passes interleaved, the order rotated each time, the empty program
    // (in the first side's namespace) among them: a change in the machine's
    // load meets every side alike.
    double e = 0;
    std::vector<double> in(measured.size()), eg(measured.size());
    for (int p = 0; p < o.passes; ++p)
      for (std::size_t k = 0; k <= measured.size(); ++k) {
        const std::size_t i = (k + r + p) % (measured.size() + 1);
        if (i == measured.size()) {
          const PassTime t = pass(*measured[0]->ns, empty.fd, empty.fd, pkts, measured[0]->if_in, measured[0]->if_out);
          e += (t.in + t.eg) / 2;
          continue;
        }
        Side& s = *measured[i];
        const PassTime t = pass(*s.ns, s.ingress.fd, s.egress.fd, pkts, s.if_in, s.if_out);
        in[i] += t.in;
        eg[i] += t.eg;
      }
    empty_ns.push_back(e / n);
    for (std::size_t i = 0; i < measured.size(); ++i) {
      measured[i]->ns_in.push_back(in[i] / n - empty_ns.back());
      measured[i]->ns_eg.push_back(eg[i] / n - empty_ns.back());
    }
    // Warm: one frame, the same rotation.
    double we = 0;
    std::vector<double> win(measured.size()), weg(measured.size());
    for (std::size_t k = 0; k <= measured.size(); ++k) {
      const std::size_t i = (k + r) % (measured.size() + 1);
      if (i == measured.size()) {
        we = warm(*measured[0]->ns, empty.fd, pkts[0], measured[0]->if_in, 0);
        continue;
      }
      Side& s = *measured[i];
      win[i] = warm(*s.ns, s.ingress.fd, pkts[0], s.if_in, s.if_in);
      weg[i] = warm(*s.ns, s.egress.fd, pkts[0], s.if_out, s.if_in);
    }
    empty_warm_ns.push_back(we);
    for (std::size_t i = 0; i < measured.size(); ++i) {
      measured[i]->warm_in.push_back(win[i] - we);
      measured[i]->warm_eg.push_back(weg[i] - we);
    }
  }

  std::map<Side*, ExactStats> exact_after;
  for (Side* s : measured)
    if (s->netring) exact_after[s] = exact_stats(*s);

  nlohmann::json out = {{"workload", o.tcp ? "tcp" : "udp"},
                        {"flows", o.flows},
                        {"rounds", o.rounds},
                        {"passes", o.passes},
                        {"warm_repeat", kWarmRepeat},
                        {"empty_program_ns", median(empty_ns)},
                        {"empty_program_warm_ns", median(empty_warm_ns)},
                        {"sides", nlohmann::json::object()}};
  std::printf(
      "ns per packet, net of an empty program: %s, %d flows, each run its own call (cold) | one frame repeated "
      "(warm)\n",
      o.tcp ? "tcp" : "udp", o.flows);
  std::printf("%-44s %9s %9s %9s | %9s %9s %9s\n", "", "ingress", "egress", "total", "ingress", "egress", "total");
  std::map<std::string, std::vector<double>> rounds_total, rounds_warm;
  for (auto& s : sides) {
    if (!s.not_measured.empty()) {
      std::printf("%-44s %s\n", s.label.c_str(), s.not_measured.c_str());
      out["sides"][s.key] = {{"label", s.label}, {"not_measured", s.not_measured}};
      continue;
    }
    std::vector<double> t, w;
    for (std::size_t i = 0; i < s.ns_in.size(); ++i) t.push_back(s.ns_in[i] + s.ns_eg[i]);
    for (std::size_t i = 0; i < s.warm_in.size(); ++i) w.push_back(s.warm_in[i] + s.warm_eg[i]);
    rounds_total[s.key] = t;
    rounds_warm[s.key] = w;
    std::printf("%-44s %9.1f %9.1f %9.1f | %9.1f %9.1f %9.1f\n", s.label.c_str(), median(s.ns_in), median(s.ns_eg),
                median(t), median(s.warm_in), median(s.warm_eg), median(w));
    out["sides"][s.key] = {{"label", s.label},
                           {"ingress_ns", median(s.ns_in)},
                           {"egress_ns", median(s.ns_eg)},
                           {"total_ns", median(t)},
                           {"rounds_total_ns", t},
                           {"warm_ingress_ns", median(s.warm_in)},
                           {"warm_egress_ns", median(s.warm_eg)},
                           {"warm_total_ns", median(w)},
                           {"rounds_warm_total_ns", w}};
    if (s.netring) {
      // The agent empties its flow map every second: the runs after a drain
      // insert their flow (an allocation) instead of adding to it. Here that
      // is a larger share of the counted runs than under traffic, where a
      // second holds many more packets per flow. Counted runs: the cold
      // passes' and warm-ups' ingress runs (the warm runs count one flow).
      const ExactStats b = exact_before[&s], a = exact_after[&s];
      // Per flow and pass, what the side counts: the UDP frame; TCP's
      // segment, and with --exact-flows=all the ACK too (and the SYN-ACK of
      // each warm-up).
      const bool all = s.key.starts_with("netring-detailed");
      const double per_pass = o.tcp && all ? 2 : 1, synacks_counted = o.tcp && all ? 1 : 0;
      const double cold_runs = static_cast<double>(o.rounds) * ((o.passes + 1) * per_pass + synacks_counted) * o.flows;
      const double inserts = (a.drains - b.drains) * a.last_flows;
      if (a.counted > b.counted) {
        std::printf("%-44s %.1f flow inserts per 100 counted cold runs (%.0f drains of about %.0f flows)\n", "",
                    100 * inserts / cold_runs, a.drains - b.drains, a.last_flows);
        out["sides"][s.key]["inserts_per_100_counted"] = 100 * inserts / cold_runs;
      }
    }
  }
  std::printf("empty program (subtracted): %.1f ns per run cold, %.1f warm\n", median(empty_ns), median(empty_warm_ns));
  // The ratio of each round's totals (the same passes' conditions), median over the rounds.
  for (auto [mine, ref] : {std::pair{"netring-default", "netobserv-50"}, std::pair{"netring-detailed", "netobserv-1"},
                           std::pair{"netring-default@compare", "netring-default"},
                           std::pair{"netring-detailed@compare", "netring-detailed"}}) {
    for (auto [name, rounds] : {std::pair{"cold", &rounds_total}, std::pair{"warm", &rounds_warm}}) {
      if (!rounds->contains(mine) || !rounds->contains(ref)) continue;
      const auto &a = (*rounds)[mine], &b = (*rounds)[ref];
      std::vector<double> ratios;
      for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
        if (b[i] > 0) ratios.push_back(a[i] / b[i]);
      if (ratios.empty()) continue;
      const double ratio = median(ratios);
      std::printf("ratio %s / %s, %s: %.3fx (median of the rounds' ratios; range %.3f..%.3f)\n", mine, ref, name, ratio,
                  *std::min_element(ratios.begin(), ratios.end()), *std::max_element(ratios.begin(), ratios.end()));
      out[std::string(name) == "cold" ? "ratios" : "warm_ratios"][std::string(mine) + "/" + ref] = ratio;
    }
  }
  if (!o.json.empty()) std::ofstream(o.json) << out.dump(2) << "\n";
  for (auto& s : sides) s.proc.stop();
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "flow_program_bench: %s\n", e.what());
  return 1;
}
