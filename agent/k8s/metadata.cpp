#include "agent/k8s/metadata.hpp"

#include "agent/k8s/pods_file.hpp"
#include "agent/log.hpp"

namespace netring::agent::k8s {

Result<std::unique_ptr<Metadata>> Metadata::start(const Config& config, const EnvLookup& env, WatchOptions base) {
  IndexLimits limits;
  limits.pod_grace = config.pod_grace_period;
  std::unique_ptr<Metadata> m(new Metadata(limits));

  if (!config.pods_from.empty()) {
    auto n = load_pods_file(config.pods_from, m->index_);
    if (!n) return std::move(n).take_error();
    log::info("loaded pods", {{"file", config.pods_from}, {"pods", *n}});
  }

  if (config.kube_api == KubeApi::kAuto) {
    auto client = discover_client_config(config, env);
    if (!client) {
      if (config.pods_from.empty()) return std::move(client).take_error();
      log::warn("no Kubernetes API; names come from --pods-from only", {{"reason", client.error().message()}});
    } else {
      log::info("watching the Kubernetes API",
                {{"server", client->host + ":" + std::to_string(client->port)}, {"via", client->source}});
      for (ResourceKind kind : {ResourceKind::kPod, ResourceKind::kService, ResourceKind::kNode}) {
        WatchOptions o = base;
        o.kind = kind;
        auto w = std::make_unique<Watcher>(*client, o, m->index_);
        if (auto r = w->start(); !r) return std::move(r).take_error();
        m->watchers_.push_back(std::move(w));
      }
    }
  }
  m->housekeeper_ = std::thread([p = m.get()] { p->housekeeping(); });
  return m;
}

Result<size_t> Metadata::reload_pods_file(const std::string& path) {
  return load_pods_file(path, index_);
}

Metadata::~Metadata() {
  stop();
}

void Metadata::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (housekeeper_.joinable()) housekeeper_.join();
  for (auto& w : watchers_) w->stop();
}

void Metadata::housekeeping() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; })) {
    lock.unlock();
    index_.expire();
    lock.lock();
  }
}

bool Metadata::synced() const {
  for (const auto& w : watchers_) {
    if (!w->health().synced) return false;
  }
  return true;
}

std::vector<std::pair<ResourceKind, WatchHealth>> Metadata::health() const {
  std::vector<std::pair<ResourceKind, WatchHealth>> out;
  ResourceKind kinds[] = {ResourceKind::kPod, ResourceKind::kService, ResourceKind::kNode};
  for (size_t i = 0; i < watchers_.size(); ++i) out.emplace_back(kinds[i], watchers_[i]->health());
  return out;
}

}  // namespace netring::agent::k8s
