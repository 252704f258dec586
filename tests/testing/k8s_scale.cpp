#include "tests/testing/k8s_scale.hpp"

#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "tests/testing/base64.hpp"
#include "tests/testing/k8s_objects.hpp"

namespace netring::testing {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kTemplateHash = "5d8f7c6b4";
constexpr int kFirstHost = 2;  // .1 is the node's bridge
constexpr int kLastHost = 254;

std::string ns_of(int deployment) {
  return "team-" + std::to_string(deployment % 300);
}

std::string node_ip(int i) {
  return "172.18." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
}

std::string cidr_prefix(int i) {
  return "10." + std::to_string(1 + i / 256) + "." + std::to_string(i % 256) + ".";
}

std::string service_ip(int s) {
  return "10.96." + std::to_string(s / 250) + "." + std::to_string(s % 250 + 1);
}

// A pod name suffix like the ReplicaSet controller's (5 characters).
std::string suffix(uint32_t v) {
  static const char* kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::string s;
  for (int i = 0; i < 5; ++i) {
    s += kAlphabet[v % 27];
    v /= 27;
  }
  return s;
}

agent::IpAddress parse_ip(const std::string& s) {
  return *agent::IpAddress::parse(s);
}

}  // namespace

size_t heap_in_use() {
  malloc_trim(0);
  return mallinfo2().uordblks;
}

std::string ScaleCluster::node_name(int i) {
  return "node-" + std::to_string(i);
}

std::string ScaleCluster::pod_ip(int node, int host) const {
  return cidr_prefix(node) + std::to_string(host);
}

json ScaleCluster::pod_json(int slot, const Slot& s, const std::string& phase, bool bound, bool with_ip,
                            bool deleting) const {
  std::string rs = "app" + std::to_string(s.deployment) + "-" + kTemplateHash;
  json p = k8s::pod({.ns = ns_of(s.deployment),
                     .name = s.name,
                     .uid = "uid-" + std::to_string(slot) + "-" + std::to_string(s.generation),
                     .owner_kind = "ReplicaSet",
                     .owner_name = rs,
                     .template_hash = kTemplateHash,
                     .ips = with_ip ? std::vector<std::string>{pod_ip(s.node, s.host)} : std::vector<std::string>{},
                     .node = bound ? node_name(s.node) : "",
                     .host_ip = bound ? node_ip(s.node) : "",
                     .phase = phase});
  if (!bound) {
    // Not scheduled yet: no node, no host address.
    p["spec"].erase("nodeName");
    p["status"].erase("hostIP");
    p["status"].erase("hostIPs");
  }
  if (deleting) {
    p["metadata"]["deletionTimestamp"] = "2026-11-25T10:00:00Z";
    p["metadata"]["deletionGracePeriodSeconds"] = 30;
  }
  return p;
}

int ScaleCluster::allocate_host(int node) {
  // host-local hands addresses out round-robin and skips those in use.
  for (int tries = 0; tries <= kLastHost - kFirstHost; ++tries) {
    int h = next_host_[node];
    next_host_[node] = h >= kLastHost ? kFirstHost : h + 1;
    if (used_hosts_[node].insert(h).second) return h;
  }
  return -1;
}

ScaleCluster::ScaleCluster(ScaleOptions o) : o_(o), rng_(o.seed) {
  FakeKubeApi::Options fo;
  fo.max_history = 200'000;
  fo.threads = o_.fake_threads;
  fo.log_requests = false;
  api_ = std::make_unique<FakeKubeApi>(fo);

  next_host_.assign(o_.nodes, kFirstHost);
  used_hosts_.resize(o_.nodes);
  node_slots_.resize(o_.nodes);
  slots_.resize(o_.pods);

  std::vector<json> batch;
  auto flush = [&](const char* resource) {
    api_->load(resource, batch);
    batch.clear();
  };
  for (int i = 0; i < o_.nodes; ++i) {
    batch.push_back(k8s::node(node_name(i), node_ip(i), "1", cidr_prefix(i) + "0/24"));
    if (batch.size() == 1000) flush("nodes");
  }
  flush("nodes");
  for (int k = 0; k < o_.pods; ++k) {
    Slot& s = slots_[k];
    s.deployment = k / 10;
    s.node = k % o_.nodes;
    s.host = allocate_host(s.node);
    s.name = "app" + std::to_string(s.deployment) + "-" + kTemplateHash + "-" + suffix(static_cast<uint32_t>(k) * 7919);
    node_slots_[s.node].insert(k);
    batch.push_back(pod_json(k, s, "Running", true, true, false));
    if (batch.size() == 2000) flush("pods");  // bounded: a pod's DOM is tens of KB
  }
  flush("pods");
  for (int sv = 0; sv < o_.services; ++sv) {
    batch.push_back(k8s::service(ns_of(sv), "svc" + std::to_string(sv), {service_ip(sv)}, "1",
                                 sv % 50 == 0 ? 30000 + sv / 50 % 2000 : 0));
    if (batch.size() == 2000) flush("services");
  }
  flush("services");
  // The EndpointSlices an agent watches: the API server's own, and a few
  // selector-less services'. (The controller's, one per service, are never
  // requested: the label selector leaves them out.)
  batch.push_back(k8s::endpoint_slice("default", "kubernetes", "kubernetes", {{.ip = "172.18.250.1"}}, "", "1"));
  for (int e = 0; e < 5; ++e)
    batch.push_back(k8s::endpoint_slice("team-" + std::to_string(e), "external-" + std::to_string(e) + "-x7k2p",
                                        "external-" + std::to_string(e), {{.ip = "203.0.113." + std::to_string(e + 1)}},
                                        "endpointslicemirroring-controller.k8s.io", "1"));
  flush("endpointslices");

  char path[] = "/tmp/netring-scale-kubeconfig-XXXXXX";
  int fd = mkstemp(path);
  if (fd >= 0) ::close(fd);
  kubeconfig_ = path;
  std::ofstream(kubeconfig_) << "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                             << "clusters:\n- name: k\n  cluster:\n    server: https://127.0.0.1:" << api_->port()
                             << "\n    certificate-authority-data: " << b64(api_->ca().ca().cert_pem)
                             << "\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\n"
                             << "users:\n- name: u\n  user:\n    token: test-token\n";
}

ScaleCluster::~ScaleCluster() {
  stop_churn();
  std::remove(kubeconfig_.c_str());
}

void ScaleCluster::start_churn() {
  if (churning_.exchange(true)) return;
  churn_ = std::thread([this] { churn_loop(); });
}

void ScaleCluster::stop_churn() {
  if (!churning_.exchange(false)) return;
  churn_.join();
}

void ScaleCluster::churn_loop() {
  // Events go out on a fixed schedule; a replacement is five of them.
  const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / o_.churn));
  auto next = Clock::now();
  auto tick = [&]() -> bool {
    next += period;
    std::this_thread::sleep_until(next);
    events_.fetch_add(1);
    return churning_.load();
  };
  std::uniform_int_distribution<int> pick_slot(0, o_.pods - 1);
  std::uniform_int_distribution<int> pick_node(0, o_.nodes - 1);
  while (churning_.load()) {
    int k;
    Slot old, fresh;
    {
      std::lock_guard lock(mu_);
      k = pick_slot(rng_);
      old = slots_[k];
      fresh = old;
      fresh.generation = old.generation + 1;
      fresh.node = pick_node(rng_);
      fresh.name = "app" + std::to_string(fresh.deployment) + "-" + kTemplateHash + "-" +
                   suffix(static_cast<uint32_t>(k) * 7919 + fresh.generation * 104729u);
      fresh.host = allocate_host(fresh.node);
    }
    if (fresh.host < 0) continue;  // that node's range is full: another pod next time
    api_->add("pods", pod_json(k, fresh, "Pending", false, false, false));
    if (!tick()) break;
    api_->modify("pods", pod_json(k, fresh, "Pending", true, false, false));
    if (!tick()) break;
    api_->modify("pods", pod_json(k, fresh, "Running", true, true, false));
    {
      // From here on, the slot's traffic goes to the new pod.
      std::lock_guard lock(mu_);
      slots_[k] = fresh;
      node_slots_[old.node].erase(k);
      node_slots_[fresh.node].insert(k);
    }
    if (!tick()) break;
    api_->modify("pods", pod_json(k, old, "Running", true, true, true));
    if (!tick()) break;
    api_->remove("pods", ns_of(old.deployment), old.name);
    {
      std::lock_guard lock(mu_);
      used_hosts_[old.node].erase(old.host);
    }
    if (!tick()) break;
  }
}

std::vector<ScaleCluster::Peer> ScaleCluster::peers_of(int node) const {
  std::vector<Peer> out;
  std::lock_guard lock(mu_);
  auto add_slot = [&](int k) {
    const Slot& s = slots_[k];
    out.push_back({parse_ip(pod_ip(s.node, s.host)), s.name});
  };
  for (int k : node_slots_[node]) add_slot(k);
  // Fixed peer slots per node, followed across replacements.
  uint64_t h = static_cast<uint64_t>(node) * 0x9e3779b97f4a7c15ULL + 1;
  for (int j = 0; j < o_.peers; ++j) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 29;
    int k = static_cast<int>(h % static_cast<uint64_t>(o_.pods));
    if (slots_[k].node != node) add_slot(k);
  }
  for (int j = 0; j < o_.peer_services && o_.services > 0; ++j) {
    int sv = (node * 31 + j * 997) % o_.services;
    out.push_back({parse_ip(service_ip(sv)), "svc" + std::to_string(sv)});
  }
  for (int j = 0; j < o_.peer_nodes && o_.nodes > 1; ++j) {
    int n = (node + 1 + j * 13) % o_.nodes;
    out.push_back({parse_ip(node_ip(n)), node_name(n)});
  }
  return out;
}

ScaleAgent::ScaleAgent(ScaleCluster& c, int node, agent::KubePods mode, std::chrono::milliseconds lookup_ttl)
    : c_(c), node_(node), mode_(mode) {
  agent::Config cfg;
  cfg.kube_lookup_ttl = lookup_ttl;
  cfg.kubeconfig = c.kubeconfig();
  cfg.node_name = ScaleCluster::node_name(node);
  cfg.kube_pods = mode;
  auto empty_env = [](const std::string&) { return std::optional<std::string>(); };
  auto m = agent::k8s::Metadata::start(cfg, empty_env);
  if (!m) throw std::runtime_error("agent on " + cfg.node_name + ": " + m.error().message());
  meta_ = std::move(*m);
}

ScaleAgent::~ScaleAgent() = default;

bool ScaleAgent::wait_synced(std::chrono::milliseconds timeout) const {
  auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    if (meta_->synced()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return meta_->synced();
}

ScaleAgent::Counters ScaleAgent::counters() const {
  Counters c;
  for (const auto& w : meta_->watchers()) {
    auto h = w->health();
    c.bytes += h.bytes;
    c.objects += h.items + h.events;
    c.requests += h.requests;
    c.cpu += w->cpu_time();
  }
  if (const auto* r = meta_->resolver()) {
    auto h = r->health();
    c.bytes += h.bytes;
    c.objects += h.items;
    c.requests += h.requests;
    c.lookups += h.lookups;
    c.cpu += r->cpu_time();
  }
  return c;
}

ScaleAgent::Answers ScaleAgent::resolve_peers() {
  Answers a;
  for (const auto& p : c_.peers_of(node_)) {
    auto id = meta_->index().lookup(p.ip);
    if (!id)
      ++a.unknown;
    else if (id->name == p.name)
      ++a.correct;
    else
      ++a.wrong;
  }
  return a;
}

}  // namespace netring::testing
