// Everything the agent knows about Kubernetes names, started from the
// configuration: the Index, filled by --pods-from and/or watches when
// --kube-api=auto finds an API server (--kubeconfig, else in-cluster), plus
// a housekeeping thread that expires deleted pods after --pod-grace-period
// even when no event arrives.
//
// What is watched (doc/scaling.md has the measured API load):
//   pods            --kube-pods=node: this node's only (fieldSelector
//                   spec.nodeName=<node>), the others looked up when a flow
//                   shows them (Resolver); --kube-pods=cluster: every pod.
//   services        every one (cluster IPs and node ports; they seldom change).
//   nodes           every one (their addresses, and spec.podCIDRs, which
//                   narrow the lookups to one node's pods).
//   endpointslices  those the EndpointSlice controller does not manage
//                   (label selector): selector-less services' and the API
//                   server's own endpoints, addresses no pod owns. Optional:
//                   readiness does not wait for it, a 403 (an RBAC without
//                   endpointslices) only leaves those addresses unnamed.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "agent/config.hpp"
#include "agent/k8s/index.hpp"
#include "agent/k8s/resolver.hpp"
#include "agent/k8s/watch.hpp"

namespace netring::agent::k8s {

// The label selector of the EndpointSlice watch: every slice but those the
// EndpointSlice controller makes from a service's pod selector (the pods
// themselves name those addresses).
inline constexpr const char* kForeignEndpointSlices =
    "endpointslice.kubernetes.io/managed-by!=endpointslice-controller.k8s.io";

class Metadata {
 public:
  // Fails when --pods-from cannot be read, or when --kube-api=auto and no API
  // configuration can be found or used while --pods-from is not given.
  // `base` and `resolver` give the defaults the configuration leaves open
  // (page size, timeouts, backoff); tests shorten them.
  static Result<std::unique_ptr<Metadata>> start(const Config& config, const EnvLookup& env,
                                                 WatchOptions base = WatchOptions{},
                                                 ResolverOptions resolver = ResolverOptions{});
  ~Metadata();
  Metadata(const Metadata&) = delete;
  Metadata& operator=(const Metadata&) = delete;

  const Index& index() const { return index_; }
  // Re-reads a --pods-from file (SIGHUP, or the file changed); pods it no
  // longer lists start their grace period. Returns the number of pods read.
  Result<size_t> reload_pods_file(const std::string& path);
  bool api_enabled() const { return !watchers_.empty(); }
  // True once every required watcher completed its first sync (always true without the API).
  bool synced() const;
  std::vector<std::pair<ResourceKind, WatchHealth>> health() const;
  // The pod lookups, when --kube-pods=node runs them.
  const Resolver* resolver() const { return resolver_.get(); }
  const std::vector<std::unique_ptr<Watcher>>& watchers() const { return watchers_; }
  void stop();

 private:
  explicit Metadata(IndexLimits limits) : index_(limits) {}
  void housekeeping();

  Index index_;
  std::vector<std::unique_ptr<Watcher>> watchers_;
  std::unique_ptr<Resolver> resolver_;
  std::thread housekeeper_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

}  // namespace netring::agent::k8s
