#include "agent/k8s/index.hpp"

#include <algorithm>
#include <mutex>

#include "agent/k8s/workload.hpp"

namespace netring::agent::k8s {
namespace {

bool same_identity(const Identity& a, const Identity& b) {
  return a.kind == b.kind && a.namespace_ == b.namespace_ && a.name == b.name && a.workload_kind == b.workload_kind &&
         a.workload == b.workload && a.node == b.node;
}

void add_ip(std::vector<IpAddress>& out, std::string_view text) {
  auto ip = IpAddress::parse(text);
  if (ip && std::find(out.begin(), out.end(), *ip) == out.end()) out.push_back(*ip);
}

Identity identity_of(ResourceKind kind, const Object& obj) {
  Identity id;
  id.kind = kind;
  id.name = obj.name;
  switch (kind) {
    case ResourceKind::kPod: {
      id.namespace_ = obj.namespace_;
      Workload w = derive_workload(obj);
      id.workload_kind = std::move(w.kind);
      id.workload = std::move(w.name);
      id.node = obj.node_name;
      break;
    }
    case ResourceKind::kService:
      id.namespace_ = obj.namespace_;
      id.workload_kind = "Service";
      id.workload = obj.name;
      break;
    case ResourceKind::kNode:
      id.workload_kind = "Node";
      id.workload = obj.name;
      id.node = obj.name;
      break;
    case ResourceKind::kEndpointSlice:
      // The address belongs to the service the slice is for.
      id.kind = ResourceKind::kService;
      id.namespace_ = obj.namespace_;
      id.name = obj.service_name.empty() ? obj.name : obj.service_name;
      id.workload_kind = "Service";
      id.workload = id.name;
      break;
  }
  return id;
}

std::vector<IpAddress> ips_of(ResourceKind kind, const Object& obj) {
  std::vector<IpAddress> ips;
  switch (kind) {
    case ResourceKind::kPod:
      // A hostNetwork pod reports the node's IP as its own; that IP is the node's identity.
      if (obj.host_network) break;
      for (const auto& s : obj.pod_ips) add_ip(ips, s);
      if (ips.empty()) add_ip(ips, obj.pod_ip);
      break;
    case ResourceKind::kService:
      if (obj.cluster_ip == "None") break;  // headless: the pods' own IPs are the identities
      for (const auto& s : obj.cluster_ips) add_ip(ips, s);
      if (ips.empty()) add_ip(ips, obj.cluster_ip);
      break;
    case ResourceKind::kNode:
      for (const auto& a : obj.addresses) {
        if (a.type == "InternalIP" || a.type == "ExternalIP") add_ip(ips, a.address);
      }
      break;
    case ResourceKind::kEndpointSlice:
      // A pod endpoint is named by the pod itself; FQDN addresses do not parse.
      for (const auto& ep : obj.endpoints) {
        if (ep.target_kind == "Pod") continue;
        for (const auto& a : ep.addresses) add_ip(ips, a);
      }
      break;
  }
  return ips;
}

std::vector<Cidr> cidrs_of(const Object& node) {
  std::vector<Cidr> out;
  auto add = [&](const std::string& text) {
    auto c = Cidr::parse(text);
    if (c && std::find(out.begin(), out.end(), *c) == out.end()) out.push_back(*c);
  };
  for (const auto& c : node.pod_cidrs) add(c);
  add(node.pod_cidr);
  return out;
}

std::string node_port_key(std::string_view protocol, uint16_t port) {
  return std::string(protocol) + "/" + std::to_string(port);
}

}  // namespace

const char* to_string(ResourceKind k) {
  switch (k) {
    case ResourceKind::kPod: return "pods";
    case ResourceKind::kService: return "services";
    case ResourceKind::kNode: return "nodes";
    case ResourceKind::kEndpointSlice: return "endpointslices";
  }
  return "?";
}

Index::Index(IndexLimits limits) : limits_(limits) {}

std::string Index::key_of(const Object& obj) {
  if (!obj.uid.empty()) return obj.uid;
  return obj.namespace_ + "/" + obj.name;
}

size_t Index::cap(ResourceKind k) const {
  switch (k) {
    case ResourceKind::kPod: return limits_.max_pods;
    case ResourceKind::kService: return limits_.max_services;
    case ResourceKind::kNode: return limits_.max_nodes;
    case ResourceKind::kEndpointSlice: return limits_.max_endpoint_slices;
  }
  return 0;
}

void Index::set_ips(Table& t, const std::string& key, Entry& e, std::vector<IpAddress> ips) {
  for (const auto& old : e.ips) {
    if (std::find(ips.begin(), ips.end(), old) != ips.end()) continue;
    auto it = t.ips.find(old);
    if (it != t.ips.end() && it->second.key == key) t.ips.erase(it);
  }
  for (const auto& ip : ips) t.ips[ip] = IpOwner{key, e.id, true};  // the newest live owner of an IP wins
  e.ips = std::move(ips);
}

void Index::upsert(ResourceKind kind, const Object& obj, Clock::time_point now) {
  if (obj.name.empty()) return;
  std::unique_lock lock(mu_);
  expire_locked(now);
  Table& t = table(kind);
  std::string key = key_of(obj);
  auto it = t.entries.find(key);

  if (kind == ResourceKind::kPod && (obj.phase == "Succeeded" || obj.phase == "Failed")) {
    // A finished pod's IPs go back to the pool: keep its name through the grace period only.
    if (it != t.entries.end()) {
      it->second.seen = t.resync_gen;
      if (!it->second.deleted) mark_deleted(kind, t, key, it->second, now);
    }
    return;
  }

  if (it == t.entries.end()) {
    if (t.entries.size() >= cap(kind) && !(kind == ResourceKind::kPod && evict_one_deleted_pod())) {
      ++refused_;
      return;
    }
    it = t.entries.emplace(key, Entry{}).first;
    ++t.live;
  } else if (it->second.deleted) {
    it->second.deleted = false;  // seen again (a relist after a spurious delete)
    ++t.live;
  }
  Entry& e = it->second;
  e.seen = t.resync_gen;
  Identity id = identity_of(kind, obj);
  if (!e.id || !same_identity(*e.id, id)) e.id = std::make_shared<const Identity>(std::move(id));
  set_ips(t, key, e, ips_of(kind, obj));

  if (kind == ResourceKind::kNode) {
    auto cidrs = cidrs_of(obj);
    if (cidrs.empty())
      node_cidrs_.erase(obj.name);
    else
      node_cidrs_[obj.name] = std::move(cidrs);
  }
  if (kind == ResourceKind::kService) {
    for (const auto& [proto, port] : e.node_ports) {
      auto np = node_ports_.find(node_port_key(proto, port));
      if (np != node_ports_.end() && np->second == e.id) node_ports_.erase(np);
    }
    e.node_ports.clear();
    for (const auto& p : obj.ports) {
      if (p.node_port == 0) continue;
      e.node_ports.emplace_back(p.protocol, p.node_port);
      node_ports_[node_port_key(p.protocol, p.node_port)] = e.id;
    }
  }
  ++generation_;
}

void Index::remove(ResourceKind kind, const Object& obj, Clock::time_point now) {
  std::unique_lock lock(mu_);
  expire_locked(now);
  Table& t = table(kind);
  std::string key = key_of(obj);
  auto it = t.entries.find(key);
  if (it == t.entries.end() || it->second.deleted) return;
  if (kind == ResourceKind::kPod) {
    mark_deleted(kind, t, key, it->second, now);
  } else {
    erase_entry(t, key);
  }
  ++generation_;
}

void Index::mark_deleted(ResourceKind kind, Table& t, const std::string& key, Entry& e, Clock::time_point now) {
  if (kind != ResourceKind::kPod || limits_.pod_grace.count() == 0) {
    erase_entry(t, key);
    return;
  }
  e.deleted = true;
  e.deleted_at = now;
  --t.live;
  for (const auto& ip : e.ips) {
    auto it = t.ips.find(ip);
    if (it != t.ips.end() && it->second.key == key) it->second.live = false;
  }
  grace_queue_.emplace_back(now, key);
}

void Index::erase_entry(Table& t, const std::string& key) {
  auto it = t.entries.find(key);
  if (it == t.entries.end()) return;
  Entry& e = it->second;
  for (const auto& ip : e.ips) {
    auto o = t.ips.find(ip);
    if (o != t.ips.end() && o->second.key == key) t.ips.erase(o);
  }
  for (const auto& [proto, port] : e.node_ports) {
    auto np = node_ports_.find(node_port_key(proto, port));
    if (np != node_ports_.end() && np->second == e.id) node_ports_.erase(np);
  }
  if (!e.deleted) --t.live;
  if (&t == &table(ResourceKind::kNode) && e.id) node_cidrs_.erase(e.id->name);
  if (&t == &table(ResourceKind::kPod) && e.id) {
    gone_log_.push_back(e.id->namespace_ + "/" + e.id->name);
    ++gone_seq_;
    if (gone_log_.size() > kGoneLogSize) gone_log_.pop_front();
  }
  t.entries.erase(it);
}

bool Index::evict_one_deleted_pod() {
  Table& t = table(ResourceKind::kPod);
  while (!grace_queue_.empty()) {
    auto [when, key] = std::move(grace_queue_.front());
    grace_queue_.pop_front();
    auto it = t.entries.find(key);
    if (it != t.entries.end() && it->second.deleted && it->second.deleted_at == when) {
      erase_entry(t, key);
      ++evicted_;
      return true;
    }
  }
  return false;
}

void Index::expire_locked(Clock::time_point now) {
  if (!remote_.empty() && now >= next_remote_drop_) {
    next_remote_drop_ = Clock::time_point::max();
    size_t before = remote_.size();
    std::erase_if(remote_, [&](const auto& kv) {
      if (now >= kv.second.drop_at) return true;
      next_remote_drop_ = std::min(next_remote_drop_, kv.second.drop_at);
      return false;
    });
    if (remote_.size() != before) ++generation_;
  }
  Table& t = table(ResourceKind::kPod);
  while (!grace_queue_.empty() && now - grace_queue_.front().first >= limits_.pod_grace) {
    auto& [when, key] = grace_queue_.front();
    auto it = t.entries.find(key);
    if (it != t.entries.end() && it->second.deleted && it->second.deleted_at == when) {
      erase_entry(t, key);
      ++generation_;
    }
    grace_queue_.pop_front();
  }
}

std::vector<std::string> Index::pods_gone_since(uint64_t& cursor) const {
  std::shared_lock lock(mu_);
  uint64_t first = gone_seq_ - gone_log_.size();
  if (cursor < first) cursor = first;
  std::vector<std::string> out(gone_log_.begin() + static_cast<std::ptrdiff_t>(cursor - first), gone_log_.end());
  cursor = gone_seq_;
  return out;
}

void Index::expire(Clock::time_point now) {
  std::unique_lock lock(mu_);
  expire_locked(now);
}

void Index::begin_resync(ResourceKind kind) {
  std::unique_lock lock(mu_);
  Table& t = table(kind);
  ++t.resync_gen;
  t.resyncing = true;
}

void Index::end_resync(ResourceKind kind, Clock::time_point now) {
  std::unique_lock lock(mu_);
  Table& t = table(kind);
  if (!t.resyncing) return;
  t.resyncing = false;
  std::vector<std::string> gone;
  for (const auto& [key, e] : t.entries) {
    if (!e.deleted && e.seen != t.resync_gen) gone.push_back(key);
  }
  for (const auto& key : gone) {
    auto it = t.entries.find(key);
    if (kind == ResourceKind::kPod) {
      mark_deleted(kind, t, key, it->second, now);
    } else {
      erase_entry(t, key);
    }
  }
  if (!gone.empty()) ++generation_;
}

IdentityRef Index::lookup(const IpAddress& ip) const {
  IdentityRef found;
  bool stale = false;
  MissHandler on_miss;
  {
    std::shared_lock lock(mu_);
    auto in = [&](ResourceKind k) -> bool {
      const Table& t = tables_[static_cast<size_t>(k)];
      auto it = t.ips.find(ip);
      if (it == t.ips.end()) return false;
      found = it->second.id;
      return true;
    };
    if (!in(ResourceKind::kPod)) {
      if (auto r = remote_.find(ip); r != remote_.end()) {
        found = r->second.id;
        stale = Clock::now() >= r->second.fresh_until;
      } else if (!in(ResourceKind::kService) && !in(ResourceKind::kNode)) {
        in(ResourceKind::kEndpointSlice);
      }
    }
    if (on_miss_ && (!found || stale)) on_miss = on_miss_;  // a copy: set_miss_handler() may run meanwhile
  }
  if (on_miss) on_miss(ip, stale);
  return found;
}

void Index::set_miss_handler(MissHandler h) {
  std::unique_lock lock(mu_);
  on_miss_ = std::move(h);
}

void Index::set_remote(const IpAddress& ip, const Object* pod, Clock::time_point fresh_until,
                       Clock::time_point drop_at) {
  std::unique_lock lock(mu_);
  if (!pod) {
    if (remote_.erase(ip)) ++generation_;
    return;
  }
  auto it = remote_.find(ip);
  if (it == remote_.end()) {
    if (remote_.size() >= limits_.max_remote_pods) {
      // Make room by dropping the answer that would go first anyway.
      auto oldest = std::min_element(remote_.begin(), remote_.end(),
                                     [](const auto& a, const auto& b) { return a.second.drop_at < b.second.drop_at; });
      remote_.erase(oldest);
      ++evicted_;
    }
    it = remote_.emplace(ip, Remote{}).first;
  }
  Remote& r = it->second;
  Identity id = identity_of(ResourceKind::kPod, *pod);
  if (!r.id || !same_identity(*r.id, id)) {
    r.id = std::make_shared<const Identity>(std::move(id));
    ++generation_;
  }
  r.fresh_until = fresh_until;
  r.drop_at = drop_at;
  next_remote_drop_ = std::min(next_remote_drop_, drop_at);
}

std::optional<std::string> Index::pod_cidr_node(const IpAddress& ip) const {
  std::shared_lock lock(mu_);
  for (const auto& [node, cidrs] : node_cidrs_) {
    for (const auto& c : cidrs) {
      if (c.contains(ip)) return node;
    }
  }
  return std::nullopt;
}

bool Index::has_pod_cidrs() const {
  std::shared_lock lock(mu_);
  return !node_cidrs_.empty();
}

IdentityRef Index::lookup_node_port(std::string_view protocol, uint16_t port) const {
  std::shared_lock lock(mu_);
  auto it = node_ports_.find(node_port_key(protocol, port));
  return it == node_ports_.end() ? nullptr : it->second;
}

IndexStats Index::stats() const {
  std::shared_lock lock(mu_);
  IndexStats s;
  const Table& pods = tables_[0];
  s.pods = pods.live;
  s.pods_in_grace = pods.entries.size() - pods.live;
  s.services = tables_[1].live;
  s.nodes = tables_[2].live;
  s.endpoint_slices = tables_[3].live;
  s.remote_pods = remote_.size();
  for (const Table& t : tables_) s.ips += t.ips.size();
  s.ips += remote_.size();
  s.refused = refused_;
  s.evicted = evicted_;
  return s;
}

uint64_t Index::generation() const {
  std::shared_lock lock(mu_);
  return generation_;
}

std::vector<std::pair<IpAddress, IdentityRef>> Index::snapshot() const {
  std::shared_lock lock(mu_);
  std::vector<std::pair<IpAddress, IdentityRef>> out;
  // In lookup order, an address once: the first owner is the one lookup() answers with.
  std::unordered_map<IpAddress, bool, IpAddressHash> seen;
  auto add = [&](const IpAddress& ip, const IdentityRef& id) {
    if (seen.emplace(ip, true).second) out.emplace_back(ip, id);
  };
  for (const auto& [ip, owner] : tables_[0].ips) add(ip, owner.id);
  for (const auto& [ip, r] : remote_) add(ip, r.id);
  for (size_t k = 1; k < kResourceKinds; ++k) {
    for (const auto& [ip, owner] : tables_[k].ips) add(ip, owner.id);
  }
  return out;
}

}  // namespace netring::agent::k8s
