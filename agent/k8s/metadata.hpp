// Everything the agent knows about Kubernetes names, started from the
// configuration: the Index, filled by --pods-from and/or one Watcher per
// resource kind (pods, services, nodes) when --kube-api=auto finds an API
// server (--kubeconfig, else in-cluster), plus a housekeeping thread that
// expires deleted pods after --pod-grace-period even when no event arrives.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "agent/config.hpp"
#include "agent/k8s/index.hpp"
#include "agent/k8s/watch.hpp"

namespace netring::agent::k8s {

class Metadata {
 public:
  // Fails when --pods-from cannot be read, or when --kube-api=auto and no API
  // configuration can be found or used while --pods-from is not given.
  static Result<std::unique_ptr<Metadata>> start(const Config& config, const EnvLookup& env,
                                                 WatchOptions base = WatchOptions{});
  ~Metadata();
  Metadata(const Metadata&) = delete;
  Metadata& operator=(const Metadata&) = delete;

  const Index& index() const { return index_; }
  // Re-reads a --pods-from file (SIGHUP, or the file changed); pods it no
  // longer lists start their grace period. Returns the number of pods read.
  Result<size_t> reload_pods_file(const std::string& path);
  bool api_enabled() const { return !watchers_.empty(); }
  // True once every watcher completed its first list (always true without the API).
  bool synced() const;
  std::vector<std::pair<ResourceKind, WatchHealth>> health() const;
  void stop();

 private:
  explicit Metadata(IndexLimits limits) : index_(limits) {}
  void housekeeping();

  Index index_;
  std::vector<std::unique_ptr<Watcher>> watchers_;
  std::thread housekeeper_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

}  // namespace netring::agent::k8s
