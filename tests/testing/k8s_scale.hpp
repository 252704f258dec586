// The Kubernetes API load harness: a FAKE API server (fake_kube_api.hpp;
// no real kube-apiserver can run on the test machines) serving a large
// cluster with pod churn, and agents' worth of the real agent/k8s client
// code (k8s::Metadata, as netring-agent starts it) on some of its nodes.
// bench/k8s_scale_bench.cpp measures with it; tests/unit/k8s_scale_test.cpp
// runs a small one for behaviour.
//
// The churn replaces pods the way a Deployment rollout does, five watch
// events per replacement: the new pod is created (Pending, unscheduled),
// bound to a node, runs with an address; the old one is marked for
// deletion, then deleted. Every agent "talks to" a fixed set of peer slots
// (pods of other nodes, followed across replacements), its own node's pods,
// some services and nodes, and resolves them once per round the way the
// publisher does, so lookups happen when a real agent's would.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/config.hpp"
#include "agent/ip_address.hpp"
#include "agent/k8s/metadata.hpp"
#include "tests/testing/fake_kube_api.hpp"

namespace netring::testing {

struct ScaleOptions {
  int pods = 150'000;
  int services = 10'000;
  int nodes = 5'000;
  double churn = 100;  // pod watch events per second, cluster-wide
  int peers = 200;     // pods of other nodes each agent exchanges traffic with
  int peer_services = 20;
  int peer_nodes = 10;
  uint32_t seed = 1;
  size_t fake_threads = 128;
};

class ScaleCluster {
 public:
  explicit ScaleCluster(ScaleOptions o);
  ~ScaleCluster();
  ScaleCluster(const ScaleCluster&) = delete;
  ScaleCluster& operator=(const ScaleCluster&) = delete;

  FakeKubeApi& api() { return *api_; }
  const ScaleOptions& options() const { return o_; }
  const std::string& kubeconfig() const { return kubeconfig_; }
  static std::string node_name(int i);

  void start_churn();
  void stop_churn();
  uint64_t pod_events() const { return events_.load(); }  // churn events sent so far

  struct Peer {
    agent::IpAddress ip;
    std::string name;  // what a correct index answers now
  };
  // Who the agent on node `node` talks to, and their names at this instant.
  std::vector<Peer> peers_of(int node) const;

 private:
  struct Slot {
    int deployment = 0;
    uint32_t generation = 0;
    int node = 0;
    int host = 0;  // address within the node's /24
    std::string name;
  };
  std::string pod_ip(int node, int host) const;
  nlohmann::json pod_json(int slot, const Slot& s, const std::string& phase, bool bound, bool with_ip,
                          bool deleting) const;
  int allocate_host(int node);
  void churn_loop();

  ScaleOptions o_;
  std::unique_ptr<FakeKubeApi> api_;
  std::string kubeconfig_;
  mutable std::mutex mu_;
  std::vector<Slot> slots_;
  std::vector<std::set<int>> node_slots_;  // node -> slots running on it
  std::vector<int> next_host_;             // per node, round-robin like host-local IPAM
  std::vector<std::set<int>> used_hosts_;
  std::mt19937 rng_;
  std::thread churn_;
  std::atomic<bool> churning_{false};
  std::atomic<uint64_t> events_{0};
};

// One agent's Kubernetes side: the real k8s::Metadata on one node.
class ScaleAgent {
 public:
  ScaleAgent(ScaleCluster& c, int node, agent::KubePods mode,
             std::chrono::milliseconds lookup_ttl = std::chrono::minutes(5));
  ~ScaleAgent();
  bool wait_synced(std::chrono::milliseconds timeout) const;

  struct Counters {
    uint64_t bytes = 0;    // response bytes received
    uint64_t objects = 0;  // objects received: list/stream items, watch events, lookup answers
    uint64_t requests = 0;
    uint64_t lookups = 0;
    std::chrono::nanoseconds cpu{0};  // of its watch and lookup threads
  };
  Counters counters() const;
  struct Answers {
    uint64_t correct = 0;
    uint64_t unknown = 0;
    uint64_t wrong = 0;
  };
  // One publisher round: every peer's address through the index.
  Answers resolve_peers();
  agent::k8s::IndexStats index_stats() const { return meta_->index().stats(); }
  int node() const { return node_; }
  agent::KubePods mode() const { return mode_; }

 private:
  ScaleCluster& c_;
  int node_;
  agent::KubePods mode_;
  std::unique_ptr<agent::k8s::Metadata> meta_;
};

// Heap bytes in use (mallinfo2), to measure an index's footprint.
size_t heap_in_use();

}  // namespace netring::testing
