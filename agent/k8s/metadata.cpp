#include "agent/k8s/metadata.hpp"

#include "agent/k8s/pods_file.hpp"
#include "agent/log.hpp"

namespace netring::agent::k8s {

Result<std::unique_ptr<Metadata>> Metadata::start(const Config& config, const EnvLookup& env, WatchOptions base,
                                                  ResolverOptions resolver) {
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
      const bool node_scope = config.kube_pods == KubePods::kNode && !config.node_name.empty();
      if (config.kube_pods == KubePods::kNode && !node_scope)
        log::warn("--kube-pods=node without a node name; watching every pod", {});
      log::info("watching the Kubernetes API",
                {{"server", client->host + ":" + std::to_string(client->port)},
                 {"via", client->source},
                 {"pods", node_scope ? "node " + config.node_name + ", others looked up" : std::string("cluster")}});
      std::vector<WatchOptions> plan;
      WatchOptions pods = base;
      pods.kind = ResourceKind::kPod;
      if (node_scope) {
        pods.field_selector = "spec.nodeName=" + config.node_name;
        pods.small_collection = true;
      }
      plan.push_back(pods);
      for (ResourceKind kind : {ResourceKind::kService, ResourceKind::kNode}) {
        WatchOptions o = base;
        o.kind = kind;
        plan.push_back(o);
      }
      WatchOptions slices = base;
      slices.kind = ResourceKind::kEndpointSlice;
      slices.label_selector = kForeignEndpointSlices;
      slices.small_collection = true;  // a handful of slices in any cluster
      slices.required = false;
      plan.push_back(slices);
      for (const WatchOptions& o : plan) {
        auto w = std::make_unique<Watcher>(*client, o, m->index_);
        if (auto r = w->start(); !r) return std::move(r).take_error();
        m->watchers_.push_back(std::move(w));
      }
      if (node_scope && config.kube_lookup_rate > 0) {
        resolver.node_name = config.node_name;
        resolver.ttl = config.kube_lookup_ttl;
        resolver.negative_ttl = config.kube_lookup_negative_ttl;
        resolver.rate = config.kube_lookup_rate;
        m->resolver_ = std::make_unique<Resolver>(*client, resolver, m->index_);
        if (auto r = m->resolver_->start(); !r) return std::move(r).take_error();
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
  if (resolver_) resolver_->stop();
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
    if (w->options().required && !w->health().synced) return false;
  }
  return true;
}

std::vector<std::pair<ResourceKind, WatchHealth>> Metadata::health() const {
  std::vector<std::pair<ResourceKind, WatchHealth>> out;
  for (const auto& w : watchers_) out.emplace_back(w->options().kind, w->health());
  return out;
}

}  // namespace netring::agent::k8s
