// Prometheus series one agent exports, at each --label-level, counted by the
// agent's own metrics code (metrics::AgentMetrics: the flow counters and
// everything the snapshot adds) for one node of a modelled cluster. Not a
// speed measurement: a count for doc/scaling.md, deterministic for a given
// traffic model.
//
// The model (defaults: the cluster of bench/k8s_scale_bench.cpp, 150,000
// pods in Deployments of 10 replicas across 300 namespaces, 30 pods per
// node): each local pod
//   - calls --peer-workloads other workloads, --peers-per-workload pods each
//     (TCP, egress),
//   - is called by --client-workloads workloads, 2 pods each (TCP, ingress),
//   - resolves names with CoreDNS (UDP to 2 kube-system/coredns pods),
//   - talks to the API server through the kubernetes service, to one
//     address outside the cluster, and is probed by its node's kubelet.
//
//   series_bench [--local-pods N] [--peer-workloads N] [--peers-per-workload N]
//                [--client-workloads N] [--namespaces N] [--workloads N] [--json FILE]
#include <netinet/in.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/metrics/agent_metrics.hpp"

using namespace netring::agent;

namespace {

struct Model {
  int local_pods = 30;
  int peer_workloads = 3;
  int peers_per_workload = 3;
  int client_workloads = 2;
  int namespaces = 300;
  int workloads = 15000;
};

Identity pod_of(int workload, int replica, int node, int namespaces) {
  Identity id;
  id.node = "node-" + std::to_string(node);
  id.ns = "team-" + std::to_string(workload % namespaces);
  id.workload = "app" + std::to_string(workload);
  id.kind = "Deployment";
  id.pod = id.workload + "-5d8f7c6b4-" + std::to_string(10000 + replica);
  return id;
}

std::vector<FlowView> node_flows(const Model& m) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> any_workload(0, m.workloads - 1);
  std::uniform_int_distribution<int> any_node(1, 4999);
  std::vector<FlowView> flows;
  uint64_t id = 1;
  auto flow = [&](const Identity& src, const Identity& dst, uint8_t proto, FlowDirection dir) {
    FlowView f;
    f.id = id++;
    f.protocol = proto;
    f.direction = dir;
    f.reporter = dir == FlowDirection::kEgress ? Reporter::kSource : Reporter::kDestination;
    f.src_id = src;
    f.dst_id = dst;
    f.packets = 100;
    f.bytes = 100'000;
    f.first_seen_ns = 1;
    flows.push_back(std::move(f));
  };
  Identity coredns = pod_of(0, 0, 1, 1);
  coredns.ns = "kube-system";
  coredns.workload = "coredns";
  Identity kubelet;
  kubelet.node = "node-0";  // the node's own address
  Identity api_service;
  api_service.ns = "default";
  api_service.service = "kubernetes";
  Identity world;
  for (int p = 0; p < m.local_pods; ++p) {
    Identity local = pod_of(p * 500 % m.workloads, p, 0, m.namespaces);
    for (int w = 0; w < m.peer_workloads; ++w) {
      int wl = any_workload(rng);
      for (int r = 0; r < m.peers_per_workload; ++r)
        flow(local, pod_of(wl, r, any_node(rng), m.namespaces), IPPROTO_TCP, FlowDirection::kEgress);
    }
    for (int w = 0; w < m.client_workloads; ++w) {
      int wl = any_workload(rng);
      for (int r = 0; r < 2; ++r)
        flow(pod_of(wl, r, any_node(rng), m.namespaces), local, IPPROTO_TCP, FlowDirection::kIngress);
    }
    for (int r = 0; r < 2; ++r) {
      Identity dns = coredns;
      dns.pod = "coredns-7db6d8ff4d-" + std::to_string(r);
      flow(local, dns, IPPROTO_UDP, FlowDirection::kEgress);
    }
    flow(local, api_service, IPPROTO_TCP, FlowDirection::kEgress);
    flow(local, world, IPPROTO_TCP, FlowDirection::kEgress);
    flow(kubelet, local, IPPROTO_TCP, FlowDirection::kIngress);
  }
  return flows;
}

// What a node's snapshot adds besides flows: its hooked interfaces (a veth
// per pod and the NIC) and the watches.
AgentSnapshot node_snapshot(const Model& m, const std::vector<FlowView>& flows) {
  AgentSnapshot s;
  s.flows = flows;
  for (int i = 0; i <= m.local_pods; ++i) {
    InterfaceCounters ic;
    ic.ifindex = 10 + i;
    ic.name = i == 0 ? "eth0" : "veth" + std::to_string(i);
    ic.role = i == 0 ? "physical" : "pod";
    ic.backend = "afxdp";
    ic.hook = "tcx";
    s.interfaces.push_back(ic);
  }
  for (const char* r : {"pods", "services", "nodes", "endpointslices"}) {
    WatchHealth w;
    w.resource = r;
    w.connected = w.synced = true;
    s.status.watches.push_back(w);
  }
  s.status.ready = true;
  return s;
}

size_t samples(const std::string& text) {
  size_t n = 0, pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    if (nl > pos && text[pos] != '#') ++n;
    pos = nl + 1;
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  Model m;
  std::string json_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (k == "--local-pods")
      m.local_pods = v;
    else if (k == "--peer-workloads")
      m.peer_workloads = v;
    else if (k == "--peers-per-workload")
      m.peers_per_workload = v;
    else if (k == "--client-workloads")
      m.client_workloads = v;
    else if (k == "--namespaces")
      m.namespaces = v;
    else if (k == "--workloads")
      m.workloads = v;
    else if (k == "--json")
      json_path = argv[i + 1];
    else {
      std::fprintf(stderr, "series_bench: unknown argument %s\n", k.c_str());
      return 2;
    }
  }
  auto flows = node_flows(m);
  std::printf(
      "one node: %d local pods, %zu flows (%d peer workloads x %d pods, %d client workloads x 2 pods, DNS, "
      "API, world, kubelet per pod)\n",
      m.local_pods, flows.size(), m.peer_workloads, m.peers_per_workload, m.client_workloads);
  std::printf("  %-10s %12s %14s %14s\n", "level", "flow series", "all /metrics", "exposition KB");
  nlohmann::json out = nlohmann::json::object();
  for (LabelLevel level : {LabelLevel::kNode, LabelLevel::kNamespace, LabelLevel::kWorkload, LabelLevel::kPod}) {
    SnapshotStore store;
    store.publish(node_snapshot(m, flows));
    metrics::AgentMetrics metrics(store, {.level = level, .max_series = 100'000'000});
    metrics.update_flows(flows);
    std::string text = metrics.render();
    size_t flow_series = metrics.flows().series();
    size_t all = samples(text);
    std::printf("  %-10s %12zu %14zu %14.1f\n", to_string(level), flow_series, all, text.size() / 1e3);
    out[to_string(level)] = {{"flow_series", flow_series}, {"all_series", all}, {"exposition_bytes", text.size()}};
  }
  out["flows"] = flows.size();
  out["local_pods"] = m.local_pods;
  if (!json_path.empty()) std::ofstream(json_path) << out.dump(1) << "\n";
  return 0;
}
