// Kubernetes API load per agent: netring's client (--kube-pods=node: this
// node's pods watched, the others looked up when seen) against the
// reference, today's client (--kube-pods=cluster: every pod watched), in the
// same run, against a FAKE API server (tests/testing/fake_kube_api.hpp; no
// real kube-apiserver can run here) that serves a large cluster with pod
// churn (tests/testing/k8s_scale.hpp). Both kinds of agent run the real
// agent/k8s code (k8s::Metadata) in this process, side by side under the
// same churn, so each measurement window sees the same events and the same
// machine load for both.
//
//   1. sync rounds, alternating reference / netring: one fresh agent, in a
//      process of its own (this program again, --agent-child), syncs and
//      names its peers; bytes, time, and the memory it keeps (heap in use,
//      RSS and peak RSS of that process: the index and its clients).
//   2. steady state: R reference and N netring agents, churn on; every
//      second each resolves its peers as the publisher would; per window:
//      bytes and objects received per second, CPU of its watch and lookup
//      threads per cluster pod event, answers right/unknown/wrong.
// Printed: median [min..max] over windows (per window the median over the
// agents), the ratio reference/netring, and the API server's bytes per
// second for a cluster of --extrapolate agents. A netring agent refreshes
// each peer's name once per --lookup-ttl (30 s here, 5 min by default in the
// agent): the windows last one TTL each so that every one holds its
// refreshes, which makes the figure an upper bound for the agent's default.
//
//   k8s_scale_bench [--pods N] [--services N] [--nodes N] [--churn EV/S]
//                   [--agents N] [--ref-agents N] [--peers N]
//                   [--sync-rounds N] [--windows N] [--window-seconds S]
//                   [--warmup S] [--lookup-ttl S] [--extrapolate N] [--json FILE]
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/log.hpp"
#include "tests/testing/k8s_scale.hpp"

extern char** environ;

namespace {

using namespace netring::testing;
using netring::agent::KubePods;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

struct Args {
  ScaleOptions scale;
  int agents = 8;
  int ref_agents = 2;
  int sync_rounds = 5;
  int windows = 5;
  double window_s = 0;  // 0: one lookup TTL, so every window holds one refresh of each peer
  double warmup_s = 10;
  int lookup_ttl_s = 30;
  int extrapolate = 5000;
  std::string json_path;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--pods")
      a.scale.pods = std::atoi(v);
    else if (k == "--services")
      a.scale.services = std::atoi(v);
    else if (k == "--nodes")
      a.scale.nodes = std::atoi(v);
    else if (k == "--churn")
      a.scale.churn = std::atof(v);
    else if (k == "--peers")
      a.scale.peers = std::atoi(v);
    else if (k == "--agents")
      a.agents = std::atoi(v);
    else if (k == "--ref-agents")
      a.ref_agents = std::atoi(v);
    else if (k == "--sync-rounds")
      a.sync_rounds = std::atoi(v);
    else if (k == "--windows")
      a.windows = std::atoi(v);
    else if (k == "--window-seconds")
      a.window_s = std::atof(v);
    else if (k == "--warmup")
      a.warmup_s = std::atof(v);
    else if (k == "--lookup-ttl")
      a.lookup_ttl_s = std::atoi(v);
    else if (k == "--extrapolate")
      a.extrapolate = std::atoi(v);
    else if (k == "--json")
      a.json_path = v;
    else {
      std::fprintf(stderr, "k8s_scale_bench: unknown argument %s\n", k.c_str());
      std::exit(2);
    }
  }
  a.scale.fake_threads = static_cast<size_t>(std::max(64, 8 * (a.agents + a.ref_agents)));
  if (a.window_s <= 0) a.window_s = a.lookup_ttl_s;
  return a;
}

struct Summary {
  double median = 0, min = 0, max = 0;
};
Summary summarize(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}
double median(std::vector<double> v) {
  return summarize(std::move(v)).median;
}

const char* mode_name(KubePods m) {
  return m == KubePods::kNode ? "netring (node + lookups)" : "reference (every pod)";
}

double secs(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Resolves every agent's peers once a second (what the publisher does),
// counting the answers per mode.
class Rounds {
 public:
  explicit Rounds(std::vector<ScaleAgent*> agents) : agents_(std::move(agents)) {
    thread_ = std::thread([this] {
      auto next = Clock::now();
      while (!stop_.load()) {
        for (auto* a : agents_) {
          auto r = a->resolve_peers();
          std::lock_guard lock(mu_);
          auto& t = totals_[a->mode()];
          t.correct += r.correct;
          t.unknown += r.unknown;
          t.wrong += r.wrong;
        }
        next += std::chrono::seconds(1);
        std::this_thread::sleep_until(next);
      }
    });
  }
  ~Rounds() {
    stop_.store(true);
    thread_.join();
  }
  ScaleAgent::Answers take(KubePods m) {
    std::lock_guard lock(mu_);
    auto t = totals_[m];
    totals_[m] = {};
    return t;
  }

 private:
  std::vector<ScaleAgent*> agents_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::map<KubePods, ScaleAgent::Answers> totals_;
};

size_t status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stoul(line.substr(std::strlen(field)));
  }
  return 0;
}

// --agent-child KUBECONFIG NODE MODE TTL_S PEERS_FILE OUT_JSON: one agent's
// Kubernetes side in this process, synced, its peers named; what it
// received and what it keeps.
int agent_child(char** argv) {
  netring::log::configure(netring::log::Level::kWarn, netring::log::Format::kLogfmt);
  netring::agent::Config cfg;
  cfg.kubeconfig = argv[0];
  // OpenSSL sets up its tables (several MB) on the first handshake, once per
  // process whatever the agent does: make it happen before the baseline.
  if (auto kc = netring::agent::k8s::kubeconfig_config(cfg.kubeconfig)) {
    if (auto c = netring::agent::k8s::Client::create(*kc)) {
      (void)(*c)->get(
          "/api/v1/nodes?limit=1", [](std::string_view) { return true; }, std::chrono::seconds(30));
    }
  }
  size_t heap0 = heap_in_use();
  cfg.node_name = argv[1];
  cfg.kube_pods = std::string(argv[2]) == "cluster" ? KubePods::kCluster : KubePods::kNode;
  cfg.kube_lookup_ttl = std::chrono::seconds(std::atoi(argv[3]));
  std::vector<netring::agent::IpAddress> peers;
  {
    std::ifstream in(argv[4]);
    std::string line;
    while (std::getline(in, line))
      if (auto ip = netring::agent::IpAddress::parse(line)) peers.push_back(*ip);
  }
  auto t0 = Clock::now();
  auto m = netring::agent::k8s::Metadata::start(cfg, [](const std::string&) { return std::optional<std::string>(); });
  if (!m) {
    std::fprintf(stderr, "agent child: %s\n", m.error().message().c_str());
    return 1;
  }
  auto& meta = **m;
  while (!meta.synced()) {
    if (Clock::now() - t0 > std::chrono::minutes(10)) return 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  double sync_s = secs(Clock::now() - t0);
  size_t unresolved = peers.size();
  auto deadline = Clock::now() + std::chrono::seconds(60);
  while (unresolved > 0 && Clock::now() < deadline) {
    unresolved = 0;
    for (const auto& ip : peers) unresolved += meta.index().lookup(ip) == nullptr;
    if (unresolved) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  uint64_t bytes = 0, objects = 0, requests = 0;
  for (const auto& w : meta.watchers()) {
    auto h = w->health();
    bytes += h.bytes;
    objects += h.items + h.events;
    requests += h.requests;
  }
  if (const auto* r = meta.resolver()) {
    auto h = r->health();
    bytes += h.bytes;
    objects += h.items;
    requests += h.requests;
  }
  auto st = meta.index().stats();
  json out = {{"sync_s", sync_s},
              {"bytes", bytes},
              {"objects", objects},
              {"requests", requests},
              {"heap", heap_in_use() - std::min(heap_in_use(), heap0)},
              {"rss_kib", status_kib("VmRSS:")},
              {"hwm_kib", status_kib("VmHWM:")},
              {"pods", st.pods},
              {"remote_pods", st.remote_pods},
              {"services", st.services},
              {"nodes", st.nodes},
              {"unresolved", unresolved}};
  std::ofstream(argv[5]) << out.dump() << "\n";
  meta.stop();
  return 0;
}

// Runs one agent in a child process; its report, or null.
json spawn_agent(ScaleCluster& cluster, int node, KubePods mode, int ttl_s) {
  char peers_path[] = "/tmp/netring-scale-peers-XXXXXX";
  int fd = mkstemp(peers_path);
  if (fd < 0) return nullptr;
  ::close(fd);
  {
    std::ofstream peers(peers_path);
    for (const auto& p : cluster.peers_of(node)) peers << p.ip.str() << "\n";
  }
  std::string out_path = std::string(peers_path) + ".json";
  std::string node_name = ScaleCluster::node_name(node), ttl = std::to_string(ttl_s);
  std::vector<std::string> args = {"k8s_scale_bench",
                                   "--agent-child",
                                   cluster.kubeconfig(),
                                   node_name,
                                   mode == KubePods::kNode ? "node" : "cluster",
                                   ttl,
                                   peers_path,
                                   out_path};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  json report = nullptr;
  if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ) == 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      std::ifstream in(out_path);
      report = json::parse(in, nullptr, false);
      if (report.is_discarded()) report = nullptr;
    }
  }
  std::remove(peers_path);
  std::remove(out_path.c_str());
  return report;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 8 && std::string(argv[1]) == "--agent-child") return agent_child(argv + 2);
  Args a = parse(argc, argv);
  netring::log::configure(netring::log::Level::kWarn, netring::log::Format::kLogfmt);
  const auto ttl = std::chrono::seconds(a.lookup_ttl_s);
  auto t0 = Clock::now();
  std::printf("building the cluster: %d pods, %d services, %d nodes (a FAKE API server)\n", a.scale.pods,
              a.scale.services, a.scale.nodes);
  std::fflush(stdout);
  ScaleCluster cluster(a.scale);
  std::printf("  built in %.1f s\n", secs(Clock::now() - t0));

  const KubePods modes[2] = {KubePods::kCluster, KubePods::kNode};
  json out = {{"pods", a.scale.pods},
              {"services", a.scale.services},
              {"nodes", a.scale.nodes},
              {"churn_events_per_s", a.scale.churn},
              {"peers", a.scale.peers},
              {"agents", a.agents},
              {"ref_agents", a.ref_agents},
              {"lookup_ttl_s", a.lookup_ttl_s},
              {"extrapolate_agents", a.extrapolate}};

  // ---- 1: sync rounds, alternating, each agent in a process of its own ----
  std::map<KubePods, std::vector<double>> sync_s, sync_bytes, sync_objects, heap, rss, hwm;
  int node = a.agents + a.ref_agents;  // nodes no steady-state agent uses
  for (int r = 0; r < a.sync_rounds; ++r) {
    for (int j = 0; j < 2; ++j) {
      KubePods m = modes[(r + j) % 2];
      json rep = spawn_agent(cluster, node++ % a.scale.nodes, m, a.lookup_ttl_s);
      if (rep.is_null()) {
        std::fprintf(stderr, "the %s agent process failed\n", mode_name(m));
        return 1;
      }
      sync_s[m].push_back(rep["sync_s"]);
      sync_bytes[m].push_back(rep["bytes"]);
      sync_objects[m].push_back(rep["objects"]);
      heap[m].push_back(rep["heap"]);
      rss[m].push_back(rep["rss_kib"].get<double>() * 1024);
      hwm[m].push_back(rep["hwm_kib"].get<double>() * 1024);
      std::printf(
          "  sync %d %-26s %6.1f s  %8.1f MB  %7.0f objects  heap %6.1f MiB  RSS %6.1f MiB (peak %6.1f)  "
          "index: %d pods, %d looked up, %d unresolved\n",
          r, mode_name(m), sync_s[m].back(), sync_bytes[m].back() / 1e6, sync_objects[m].back(),
          heap[m].back() / 1048576.0, rss[m].back() / 1048576.0, hwm[m].back() / 1048576.0, rep["pods"].get<int>(),
          rep["remote_pods"].get<int>(), rep["unresolved"].get<int>());
      std::fflush(stdout);
    }
  }

  // ---- 2: steady state under churn ----
  std::vector<std::unique_ptr<ScaleAgent>> agents;
  for (int i = 0; i < a.ref_agents; ++i)
    agents.push_back(std::make_unique<ScaleAgent>(cluster, i, KubePods::kCluster, ttl));
  for (int i = 0; i < a.agents; ++i)
    agents.push_back(std::make_unique<ScaleAgent>(cluster, a.ref_agents + i, KubePods::kNode, ttl));
  for (auto& ag : agents) {
    if (!ag->wait_synced(std::chrono::minutes(10))) {
      std::fprintf(stderr, "steady-state agent did not sync\n");
      return 1;
    }
  }
  std::vector<ScaleAgent*> raw;
  for (auto& ag : agents) raw.push_back(ag.get());
  cluster.start_churn();
  Rounds rounds(raw);
  std::printf("steady state: %d reference + %d netring agents, %.0f pod events/s, warm-up %.0f s\n", a.ref_agents,
              a.agents, a.scale.churn, a.warmup_s);
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::duration<double>(a.warmup_s));
  for (KubePods m : modes) rounds.take(m);

  struct PerMode {
    std::vector<double> bytes_s, objects_s, bytes_per_event, cpu_us_per_event, requests_s, correct_pct, unknown_pct,
        wrong_pct;
    double bytes = 0, events = 0, seconds = 0;
  };
  std::map<KubePods, PerMode> pm;
  std::vector<double> examined_per_lookup;
  for (int w = 0; w < a.windows; ++w) {
    std::vector<ScaleAgent::Counters> c0;
    for (auto& ag : agents) c0.push_back(ag->counters());
    uint64_t e0 = cluster.pod_events();
    uint64_t x0 = cluster.api().objects_examined();
    auto w0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(a.window_s));
    double dt = secs(Clock::now() - w0);
    double events = static_cast<double>(cluster.pod_events() - e0);
    uint64_t lookups = 0;
    std::map<KubePods, std::vector<double>> bs, os, bpe, cpe, rs;
    for (size_t i = 0; i < agents.size(); ++i) {
      auto c = agents[i]->counters();
      KubePods m = agents[i]->mode();
      double db = static_cast<double>(c.bytes - c0[i].bytes);
      bs[m].push_back(db / dt);
      os[m].push_back(static_cast<double>(c.objects - c0[i].objects) / dt);
      bpe[m].push_back(events > 0 ? db / events : 0);
      cpe[m].push_back(events > 0 ? std::chrono::duration<double, std::micro>(c.cpu - c0[i].cpu).count() / events : 0);
      rs[m].push_back(static_cast<double>(c.requests - c0[i].requests) / dt);
      lookups += c.lookups - c0[i].lookups;
      pm[m].bytes += db;
      pm[m].events += events;
      pm[m].seconds += dt;
    }
    if (lookups > 0)
      examined_per_lookup.push_back(static_cast<double>(cluster.api().objects_examined() - x0) / lookups);
    std::printf("  window %d: %.0f pod events in %.1f s\n", w, events, dt);
    for (KubePods m : modes) {
      auto ans = rounds.take(m);
      double total = static_cast<double>(ans.correct + ans.unknown + ans.wrong);
      PerMode& p = pm[m];
      p.bytes_s.push_back(median(bs[m]));
      p.objects_s.push_back(median(os[m]));
      p.bytes_per_event.push_back(median(bpe[m]));
      p.cpu_us_per_event.push_back(median(cpe[m]));
      p.requests_s.push_back(median(rs[m]));
      p.correct_pct.push_back(total ? 100.0 * ans.correct / total : 0);
      p.unknown_pct.push_back(total ? 100.0 * ans.unknown / total : 0);
      p.wrong_pct.push_back(total ? 100.0 * ans.wrong / total : 0);
      std::printf(
          "    %-26s %9.0f B/s  %8.1f objects/s  %7.1f B/pod event  %6.2f us CPU/pod event  answers %.2f%% "
          "right %.2f%% unknown %.3f%% wrong\n",
          mode_name(m), p.bytes_s.back(), p.objects_s.back(), p.bytes_per_event.back(), p.cpu_us_per_event.back(),
          p.correct_pct.back(), p.unknown_pct.back(), p.wrong_pct.back());
    }
    std::fflush(stdout);
  }
  cluster.stop_churn();

  // ---- report ----
  auto line = [](const char* what, const Summary& s, const char* unit) {
    std::printf("    %-34s %12.2f %s  [%.2f..%.2f]\n", what, s.median, unit, s.min, s.max);
  };
  std::printf(
      "\nKubernetes API load per agent, %d pods / %d services / %d nodes, %.0f pod events/s, %d peers, "
      "lookup TTL %d s (median [min..max] of %d windows of %.0f s; sync: %d rounds)\n",
      a.scale.pods, a.scale.services, a.scale.nodes, a.scale.churn, a.scale.peers, a.lookup_ttl_s, a.windows,
      a.window_s, a.sync_rounds);
  json modes_json = json::object();
  for (KubePods m : modes) {
    PerMode& p = pm[m];
    std::printf("  %s\n", mode_name(m));
    Summary bps = summarize(p.bytes_s), ops = summarize(p.objects_s), bpe = summarize(p.bytes_per_event),
            cpu = summarize(p.cpu_us_per_event), rps = summarize(p.requests_s), ss = summarize(sync_s[m]),
            sb = summarize(sync_bytes[m]), hp = summarize(heap[m]), ok = summarize(p.correct_pct),
            unk = summarize(p.unknown_pct), bad = summarize(p.wrong_pct);
    double mean_bps = p.seconds > 0 ? p.bytes / p.seconds : 0;
    double mean_bpe = p.events > 0 ? p.bytes / p.events : 0;
    line("bytes received per second", bps, "B/s");
    line("objects received per second", ops, "/s");
    line("bytes per cluster pod event", bpe, "B");
    std::printf("    %-34s %12.2f B  (mean over all windows)\n", "", mean_bpe);
    line("CPU per cluster pod event", cpu, "us");
    line("requests per second", rps, "/s");
    line("initial sync", ss, "s");
    line("initial sync bytes", {sb.median / 1e6, sb.min / 1e6, sb.max / 1e6}, "MB");
    line("heap kept (index, clients)", {hp.median / 1048576.0, hp.min / 1048576.0, hp.max / 1048576.0}, "MiB");
    Summary rs = summarize(rss[m]), pk = summarize(hwm[m]);
    line("agent process RSS after sync", {rs.median / 1048576.0, rs.min / 1048576.0, rs.max / 1048576.0}, "MiB");
    line("agent process peak RSS", {pk.median / 1048576.0, pk.min / 1048576.0, pk.max / 1048576.0}, "MiB");
    line("peer answers right", ok, "%");
    line("peer answers unknown", unk, "%");
    line("peer answers wrong", bad, "%");
    std::printf("    API server bytes/s for %d agents: %.1f MB/s (median), %.1f MB/s (mean)\n", a.extrapolate,
                bps.median * a.extrapolate / 1e6, mean_bps * a.extrapolate / 1e6);
    modes_json[m == KubePods::kNode ? "netring" : "reference"] = {
        {"bytes_per_s", p.bytes_s},
        {"objects_per_s", p.objects_s},
        {"bytes_per_pod_event", p.bytes_per_event},
        {"bytes_per_pod_event_mean", mean_bpe},
        {"bytes_per_s_mean", mean_bps},
        {"cpu_us_per_pod_event", p.cpu_us_per_event},
        {"requests_per_s", p.requests_s},
        {"sync_s", sync_s[m]},
        {"sync_bytes", sync_bytes[m]},
        {"sync_objects", sync_objects[m]},
        {"index_heap_bytes", heap[m]},
        {"rss_bytes", rss[m]},
        {"peak_rss_bytes", hwm[m]},
        {"correct_pct", p.correct_pct},
        {"unknown_pct", p.unknown_pct},
        {"wrong_pct", p.wrong_pct},
        {"api_server_bytes_per_s_extrapolated", bps.median * a.extrapolate}};
  }
  double ref_bpe = pm[KubePods::kCluster].events ? pm[KubePods::kCluster].bytes / pm[KubePods::kCluster].events : 0;
  double net_bpe = pm[KubePods::kNode].events ? pm[KubePods::kNode].bytes / pm[KubePods::kNode].events : 0;
  double ratio = net_bpe > 0 ? ref_bpe / net_bpe : 0;
  std::printf(
      "  bytes per agent per pod event, reference / netring: %.1fx (means over all windows; per-window medians "
      "%.1fx)\n",
      ratio,
      median(pm[KubePods::kNode].bytes_per_event) > 0
          ? median(pm[KubePods::kCluster].bytes_per_event) / median(pm[KubePods::kNode].bytes_per_event)
          : 0.0);
  if (!examined_per_lookup.empty())
    std::printf("  objects the API server examined per lookup: %.1f (median of windows)\n",
                median(examined_per_lookup));
  std::printf("  fake API server totals: %.1f MB sent, %llu events sent\n", cluster.api().bytes_sent() / 1e6,
              static_cast<unsigned long long>(cluster.api().events_sent()));
  out["modes"] = modes_json;
  out["ratio_bytes_per_pod_event"] = ratio;
  out["examined_per_lookup"] = examined_per_lookup;
  out["seconds"] = secs(Clock::now() - t0);
  if (!a.json_path.empty()) std::ofstream(a.json_path) << out.dump(1) << "\n";
  return 0;
}
