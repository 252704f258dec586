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
// InternalIP/ExternalIP addresses. Lookup order: pod, service, node.
// Memory is bounded: each kind has a cap on objects; at the cap the oldest
// deleted pods go first, then new objects are refused and counted.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/ip_address.hpp"
#include "agent/k8s/object.hpp"

namespace netring::agent::k8s {

enum class ResourceKind : uint8_t { kPod, kService, kNode };
const char* to_string(ResourceKind k);

struct Identity {
  ResourceKind kind = ResourceKind::kPod;
  std::string namespace_;  // empty for nodes
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
  std::chrono::milliseconds pod_grace{60'000};
};

struct IndexStats {
  size_t pods = 0;           // live
  size_t pods_in_grace = 0;  // deleted, still resolvable
  size_t services = 0;
  size_t nodes = 0;
  size_t ips = 0;        // addresses resolvable
  uint64_t refused = 0;  // objects not stored because a cap was reached
  uint64_t evicted = 0;  // deleted pods dropped before their grace ended, to make room
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

  IdentityRef lookup(const IpAddress& ip) const;
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
  Table tables_[3];
  std::unordered_map<std::string, IdentityRef> node_ports_;            // "TCP/30080" -> service
  std::deque<std::pair<Clock::time_point, std::string>> grace_queue_;  // deleted pods, in deletion order
  uint64_t generation_ = 0;
  std::deque<std::string> gone_log_;  // pods_gone_since(); entry i has sequence gone_seq_ - size + i
  uint64_t gone_seq_ = 0;
  uint64_t refused_ = 0;
  uint64_t evicted_ = 0;
};

}  // namespace netring::agent::k8s
