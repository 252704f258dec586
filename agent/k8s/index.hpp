// IP address -> identity (pod, service or node) for labelling flows.
//
// Writers are the watch threads and the --pods-from loader; readers are the
// workers, metrics and API on other threads. Reads take a shared lock and
// return an immutable, reference-counted Identity, so a reader keeps a stable
// view of a name even while the index changes underneath it.
//
// Rules: a pod's status.podIPs (status.podIP when the list is absent) map to
// the pod; a hostNetwork pod shares its node's IP and is never an identity
// for it. A deleted (or Succeeded/Failed) pod keeps its IPs for the grace
// period, so late samples still get its name, unless a live pod takes an IP
// over. Services map their cluster IPs (and node ports), nodes their
// InternalIP/ExternalIP addresses, EndpointSlices the addresses of their
// endpoints that are no pods (selector-less services, the API server's own
// endpoints) as the service. Pods of other nodes, when only this node's pods
// are watched, come from point lookups (set_remote) and hold for a TTL.
// Lookup order: watched pod, looked-up pod, service, node, EndpointSlice
// address (last: a node that also serves the API stays the node).
// Memory is bounded: each kind has a cap on objects; at the cap the oldest
// deleted pods go first, then new objects are refused and counted.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/ip_address.hpp"
#include "agent/k8s/cidr.hpp"
#include "agent/k8s/object.hpp"

namespace netring::agent::k8s {

enum class ResourceKind : uint8_t { kPod, kService, kNode, kEndpointSlice };
inline constexpr size_t kResourceKinds = 4;
const char* to_string(ResourceKind k);

struct Identity {
  ResourceKind kind = ResourceKind::kPod;  // an EndpointSlice address is a kService
  std::string namespace_;                  // empty for nodes
  std::string name;
  std::string workload_kind;  // Deployment, StatefulSet, ..., "Service", "Node"
  std::string workload;
  std::string node;  // node the pod runs on; the node's own name for nodes
};
using IdentityRef = std::shared_ptr<const Identity>;

struct IndexLimits {
  size_t max_pods = 250'000;  // live + in grace
  size_t max_services = 50'000;
  size_t max_nodes = 20'000;
  size_t max_endpoint_slices = 50'000;
  size_t max_remote_pods = 65'536;  // looked-up addresses held at once
  std::chrono::milliseconds pod_grace{60'000};
};

struct IndexStats {
  size_t pods = 0;           // live
  size_t pods_in_grace = 0;  // deleted, still resolvable
  size_t services = 0;
  size_t nodes = 0;
  size_t endpoint_slices = 0;
  size_t remote_pods = 0;  // addresses answered by a point lookup, held for their TTL
  size_t ips = 0;          // addresses resolvable
  uint64_t refused = 0;    // objects not stored because a cap was reached
  uint64_t evicted = 0;    // deleted pods dropped before their grace ended, to make room
};

class Index {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Index(IndexLimits limits = {});
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  // An ADDED/MODIFIED event or a list item.
  void upsert(ResourceKind kind, const Object& obj, Clock::time_point now = Clock::now());
  // A DELETED event.
  void remove(ResourceKind kind, const Object& obj, Clock::time_point now = Clock::now());

  // A relist: objects of `kind` not upserted between begin and end were
  // deleted while the watch was down. end_resync() is not called when the
  // list failed, so a partial list never deletes anything.
  void begin_resync(ResourceKind kind);
  void end_resync(ResourceKind kind, Clock::time_point now = Clock::now());

  // Drops deleted pods whose grace period has passed.
  void expire(Clock::time_point now = Clock::now());

  // On a miss, and on a hit of a looked-up pod whose TTL has passed, calls
  // the miss handler (outside the index's lock) so a resolver can look the
  // address up; the answer arrives through set_remote().
  IdentityRef lookup(const IpAddress& ip) const;
  using MissHandler = std::function<void(const IpAddress& ip, bool stale)>;
  void set_miss_handler(MissHandler h);  // before readers start

  // A point lookup's answer for `ip`: the pod holding it (nullptr: no pod
  // does, forget any earlier answer). It resolves until `drop_at`; past
  // `fresh_until` a lookup still answers with it but asks for a refresh.
  void set_remote(const IpAddress& ip, const Object* pod, Clock::time_point fresh_until, Clock::time_point drop_at);
  // The node whose spec.podCIDR(s) hold `ip`, if any.
  std::optional<std::string> pod_cidr_node(const IpAddress& ip) const;
  // Whether any node has spec.podCIDRs (clusters that do not allocate them have none).
  bool has_pod_cidrs() const;
  // The service exposing `port` as a NodePort for `protocol` ("TCP", "UDP", "SCTP").
  IdentityRef lookup_node_port(std::string_view protocol, uint16_t port) const;

  IndexStats stats() const;
  // Bumped on every change; caches of lookups compare it to know they are stale.
  uint64_t generation() const;
  // Every resolvable address with its identity, consistent at one instant.
  std::vector<std::pair<IpAddress, IdentityRef>> snapshot() const;

  // Pods the index stopped resolving (grace period over, evicted to make
  // room, or deleted with no grace), as "namespace/name", in order. Consumers
  // keep a cursor (start at 0): each call returns what was dropped since and
  // advances it. The log keeps the last kGoneLogSize drops only; a consumer
  // polling every second never falls that far behind.
  std::vector<std::string> pods_gone_since(uint64_t& cursor) const;
  static constexpr size_t kGoneLogSize = 65'536;

 private:
  struct Entry {
    IdentityRef id;
    std::vector<IpAddress> ips;
    std::vector<std::pair<std::string, uint16_t>> node_ports;  // services
    bool deleted = false;
    Clock::time_point deleted_at{};
    uint64_t seen = 0;  // resync generation that last saw it
  };
  struct IpOwner {
    std::string key;
    IdentityRef id;
    bool live = true;
  };
  struct Remote {
    IdentityRef id;
    Clock::time_point fresh_until;
    Clock::time_point drop_at;
  };
  struct Table {
    std::unordered_map<std::string, Entry> entries;
    std::unordered_map<IpAddress, IpOwner, IpAddressHash> ips;
    uint64_t resync_gen = 0;
    bool resyncing = false;
    size_t live = 0;
  };

  static std::string key_of(const Object& obj);
  Table& table(ResourceKind k) { return tables_[static_cast<size_t>(k)]; }
  size_t cap(ResourceKind k) const;
  void set_ips(Table& t, const std::string& key, Entry& e, std::vector<IpAddress> ips);
  void mark_deleted(ResourceKind kind, Table& t, const std::string& key, Entry& e, Clock::time_point now);
  void erase_entry(Table& t, const std::string& key);
  bool evict_one_deleted_pod();
  void expire_locked(Clock::time_point now);

  IndexLimits limits_;
  mutable std::shared_mutex mu_;
  Table tables_[kResourceKinds];
  std::unordered_map<IpAddress, Remote, IpAddressHash> remote_;
  Clock::time_point next_remote_drop_ = Clock::time_point::max();  // earliest drop_at in remote_
  std::unordered_map<std::string, std::vector<Cidr>> node_cidrs_;  // node name -> spec.podCIDRs
  MissHandler on_miss_;
  std::unordered_map<std::string, IdentityRef> node_ports_;            // "TCP/30080" -> service
  std::deque<std::pair<Clock::time_point, std::string>> grace_queue_;  // deleted pods, in deletion order
  uint64_t generation_ = 0;
  std::deque<std::string> gone_log_;  // pods_gone_since(); entry i has sequence gone_seq_ - size + i
  uint64_t gone_seq_ = 0;
  uint64_t refused_ = 0;
  uint64_t evicted_ = 0;
};

}  // namespace netring::agent::k8s
