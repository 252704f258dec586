// The real backend of a flow to a Service: the sampler sees a pod's packets
// to a ClusterIP/NodePort before kube-proxy's DNAT rewrites them, so the
// backend pod is found in conntrack, whose entry for the flow's original
// (pre-DNAT) tuple has the backend as its reply tuple's source.
//
// One netlink query (NFCT_Q_GET, libnetfilter_conntrack) per new flow;
// answers are kept in a bounded LRU per flow key, so a flow's later samples
// and reports cost nothing. Needs CAP_NET_ADMIN in the namespace where the
// NAT happens (the node's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "agent/ip_address.hpp"
#include "pkg/common/error.hpp"

struct nfct_handle;

namespace netring::agent {

// A flow's original tuple; ports in host byte order.
struct FlowKey {
  IpAddress src;
  IpAddress dst;
  uint16_t sport = 0;
  uint16_t dport = 0;
  uint8_t proto = 0;  // IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP
  bool operator==(const FlowKey&) const = default;
};

struct FlowKeyHash {
  size_t operator()(const FlowKey& k) const {
    size_t h = k.src.hash() * 31 + k.dst.hash();
    return h ^
           (static_cast<size_t>(k.sport) << 24 | static_cast<size_t>(k.dport) << 8 | k.proto) * 0x9e3779b97f4a7c15ULL;
  }
};

struct NatBackend {
  IpAddress addr;
  uint16_t port = 0;
  bool operator==(const NatBackend&) const = default;
};

struct ConntrackStats {
  uint64_t queries = 0;  // netlink round trips
  uint64_t cache_hits = 0;
  uint64_t not_found = 0;   // no conntrack entry (yet): not cached
  uint64_t translated = 0;  // entries whose destination was rewritten
  size_t cached = 0;
};

class ConntrackResolver {
 public:
  static Result<std::unique_ptr<ConntrackResolver>> open(size_t cache_capacity = 65536);
  ~ConntrackResolver();
  ConntrackResolver(const ConntrackResolver&) = delete;
  ConntrackResolver& operator=(const ConntrackResolver&) = delete;

  // The backend the flow was DNAT'ed to; nullopt when conntrack did not
  // rewrite its destination (or has no entry for it). Thread-safe.
  Result<std::optional<NatBackend>> backend(const FlowKey& key);

  ConntrackStats stats() const;

 private:
  explicit ConntrackResolver(nfct_handle* h, size_t capacity);
  Result<std::optional<NatBackend>> query(const FlowKey& key, bool& found);
  void remember(const FlowKey& key, const std::optional<NatBackend>& value);

  nfct_handle* handle_;
  size_t capacity_;
  mutable std::mutex mu_;
  using Lru = std::list<std::pair<FlowKey, std::optional<NatBackend>>>;
  Lru lru_;  // most recent first
  std::unordered_map<FlowKey, Lru::iterator, FlowKeyHash> map_;
  ConntrackStats stats_;
};

}  // namespace netring::agent
