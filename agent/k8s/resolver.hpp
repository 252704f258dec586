// Names the pods of other nodes when the agent watches only its own node's
// pods (--kube-pods=node): an address the index cannot name is looked up
// when a flow shows it, and the answer is held for a TTL, so the API server
// sends this agent nothing for the cluster's pod churn it never sees.
//
//   GET /api/v1/pods?fieldSelector=status.podIP=<ip>[,spec.nodeName=<node>]&resourceVersion=0
//
// resourceVersion=0 is served from the API server's watch cache, never
// from etcd. When the nodes carry spec.podCIDRs the lookup names the node
// whose range holds the address: the watch cache indexes pods by
// spec.nodeName, so the server scans that node's pods instead of all of
// them. A CNI that does not allocate from the nodes' ranges (its own IPAM)
// is noticed (a pod found outside its node's range, or not found on the
// node its range names but elsewhere) and the ranges are no longer trusted:
// lookups then cover the private address ranges and go untargeted. Until a
// few targeted lookups have found their pods, a targeted miss is checked by
// an untargeted one; after that it means "no pod", so a deleted peer's
// address does not make the API server scan every pod.
//
// Load stays bounded whatever the traffic: one request in flight, at most
// `rate` per second (token bucket), a bounded queue, answers held for `ttl`
// (then refreshed while in use, the old answer serving meanwhile), and
// addresses no pod holds remembered for `negative_ttl`.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "agent/k8s/client.hpp"
#include "agent/k8s/index.hpp"

namespace netring::agent::k8s {

struct ResolverOptions {
  std::string node_name{};  // this node: its pods are watched, its range is never looked up
  std::chrono::milliseconds ttl{300'000};
  std::chrono::milliseconds negative_ttl{30'000};
  uint32_t rate = 20;  // lookups per second
  size_t max_pending = 4096;
  size_t max_negative = 65'536;
  std::chrono::seconds request_timeout{10};
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{30'000};
};

struct ResolverHealth {
  uint64_t lookups = 0;       // requests answered (found or not)
  uint64_t found = 0;         // named a pod
  uint64_t not_found = 0;     // no pod holds the address
  uint64_t items = 0;         // pods the answers carried
  uint64_t targeted = 0;      // narrowed to one node by its pod CIDR
  uint64_t errors = 0;        // failed requests (then backoff)
  uint64_t dropped = 0;       // misses not queued (queue full)
  uint64_t out_of_scope = 0;  // misses outside every pod range (never looked up)
  bool cidrs_trusted = true;  // the nodes' spec.podCIDRs hold their pods
  uint64_t bytes = 0;
  uint64_t requests = 0;
  std::string last_error;
};

class Resolver {
 public:
  Resolver(ClientConfig client, ResolverOptions opts, Index& index);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Connects to the index's misses and starts the lookup thread.
  Result<void> start();
  void stop();
  ResolverHealth health() const;
  std::chrono::nanoseconds cpu_time() const;
  // Addresses waiting for a lookup (tests).
  size_t pending() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Target {
    bool in_scope = false;
    std::string node;  // non-empty: the node whose pod CIDR holds the address
  };
  void on_miss(const IpAddress& ip, bool stale);
  void run();
  Target target_of(const IpAddress& ip) const;
  // One request; false when it failed (the caller backs off).
  bool lookup(const IpAddress& ip, const std::string& node, bool& found);
  void distrust_cidrs(const std::string& why);

  ClientConfig client_cfg_;
  ResolverOptions opts_;
  Index& index_;
  std::unique_ptr<Client> client_;
  std::thread thread_;
  std::atomic<bool> cidrs_trusted_{true};
  // Targeted lookups that found their pod on the node the range named; past
  // kConfirmations a targeted miss is taken as "no pod".
  uint64_t confirmed_ = 0;
  static constexpr uint64_t kConfirmations = 16;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::deque<IpAddress> queue_;
  std::unordered_set<IpAddress, IpAddressHash> pending_;
  std::unordered_map<IpAddress, Clock::time_point, IpAddressHash> negative_;  // until when
  ResolverHealth health_;
};

}  // namespace netring::agent::k8s
