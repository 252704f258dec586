#include "agent/conntrack.hpp"

#include <arpa/inet.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>

namespace netring::agent {
namespace {

struct CtDeleter {
  void operator()(nf_conntrack* ct) const { nfct_destroy(ct); }
};

struct Reply {
  bool seen = false;
  IpAddress src;
  uint16_t sport = 0;  // host order
};

int on_entry(enum nf_conntrack_msg_type, struct nf_conntrack* ct, void* data) {
  auto* r = static_cast<Reply*>(data);
  r->seen = true;
  if (nfct_get_attr_u8(ct, ATTR_REPL_L3PROTO) == AF_INET) {
    r->src = IpAddress::v4(nfct_get_attr_u32(ct, ATTR_REPL_IPV4_SRC));
  } else {
    r->src = IpAddress::v6(static_cast<const uint8_t*>(nfct_get_attr(ct, ATTR_REPL_IPV6_SRC)));
  }
  r->sport = ntohs(nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC));
  return NFCT_CB_STOP;
}

std::string describe(const FlowKey& k) {
  return std::to_string(k.proto) + " " + k.src.str() + ":" + std::to_string(k.sport) + " -> " + k.dst.str() + ":" +
         std::to_string(k.dport);
}

}  // namespace

Result<std::unique_ptr<ConntrackResolver>> ConntrackResolver::open(size_t cache_capacity) {
  nfct_handle* h = nfct_open(CONNTRACK, 0);
  if (!h) {
    Error e = Error::from_errno("nfct_open(CONNTRACK)", "netlink conntrack socket");
    if (e.code() == EPERM) return std::move(e).with_hint("needs CAP_NET_ADMIN");
    return e;
  }
  return std::unique_ptr<ConntrackResolver>(new ConntrackResolver(h, cache_capacity == 0 ? 1 : cache_capacity));
}

ConntrackResolver::ConntrackResolver(nfct_handle* h, size_t capacity) : handle_(h), capacity_(capacity) {}

ConntrackResolver::~ConntrackResolver() {
  nfct_close(handle_);
}

Result<std::optional<NatBackend>> ConntrackResolver::query(const FlowKey& key, bool& found) {
  found = false;
  std::unique_ptr<nf_conntrack, CtDeleter> ct(nfct_new());
  if (!ct) return Error::from_errno("nfct_new");
  bool v4 = key.src.is_v4();
  if (v4 != key.dst.is_v4()) return Error::invalid("conntrack query", "mixed address families: " + describe(key));
  if (v4) {
    nfct_set_attr_u8(ct.get(), ATTR_L3PROTO, AF_INET);
    nfct_set_attr_u32(ct.get(), ATTR_IPV4_SRC, key.src.v4_be());
    nfct_set_attr_u32(ct.get(), ATTR_IPV4_DST, key.dst.v4_be());
  } else {
    nfct_set_attr_u8(ct.get(), ATTR_L3PROTO, AF_INET6);
    nfct_set_attr(ct.get(), ATTR_IPV6_SRC, key.src.bytes().data());
    nfct_set_attr(ct.get(), ATTR_IPV6_DST, key.dst.bytes().data());
  }
  nfct_set_attr_u8(ct.get(), ATTR_L4PROTO, key.proto);
  nfct_set_attr_u16(ct.get(), ATTR_PORT_SRC, htons(key.sport));
  nfct_set_attr_u16(ct.get(), ATTR_PORT_DST, htons(key.dport));

  Reply reply;
  nfct_callback_register(handle_, NFCT_T_ALL, on_entry, &reply);
  int rc = nfct_query(handle_, NFCT_Q_GET, ct.get());
  int err = errno;
  nfct_callback_unregister(handle_);
  ++stats_.queries;
  if (rc < 0) {
    if (err == ENOENT) return std::optional<NatBackend>();
    Error e("nfct_query(NFCT_Q_GET)", err, describe(key));
    if (err == EPERM) return std::move(e).with_hint("needs CAP_NET_ADMIN");
    return e;
  }
  if (!reply.seen) return std::optional<NatBackend>();
  found = true;
  // The reply tuple's source is who really answers: the original destination
  // unless DNAT rewrote it.
  if (reply.src == key.dst && reply.sport == key.dport) return std::optional<NatBackend>();
  return std::optional<NatBackend>(NatBackend{reply.src, reply.sport});
}

void ConntrackResolver::remember(const FlowKey& key, const std::optional<NatBackend>& value) {
  lru_.emplace_front(key, value);
  map_[key] = lru_.begin();
  if (lru_.size() > capacity_) {
    map_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

Result<std::optional<NatBackend>> ConntrackResolver::backend(const FlowKey& key) {
  std::lock_guard lock(mu_);
  if (auto it = map_.find(key); it != map_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    ++stats_.cache_hits;
    return it->second->second;
  }
  bool found = false;
  auto r = query(key, found);
  if (!r) return r;
  if (!found) {
    // No entry yet (or already gone): asking again later may find one.
    ++stats_.not_found;
    return r;
  }
  if (*r) ++stats_.translated;
  remember(key, *r);
  return r;
}

ConntrackStats ConntrackResolver::stats() const {
  std::lock_guard lock(mu_);
  ConntrackStats s = stats_;
  s.cached = lru_.size();
  return s;
}

}  // namespace netring::agent
