#include "agent/discovery/interface_discovery.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace netring::agent::discovery {
namespace {

// Large enough that a burst of pod churn (each pod: link, addresses, routes)
// does not overflow it; ENOBUFS still triggers a full resync.
constexpr int kRcvBuf = 4 << 20;

int collect_attr(const nlattr* attr, void* data) {
  auto* tb = static_cast<const nlattr**>(data);
  int type = mnl_attr_get_type(attr);
  tb[type] = attr;  // types are bounded by the max passed to mnl_attr_type_valid below
  return MNL_CB_OK;
}

template <int Max>
struct AttrTable {
  const nlattr* tb[Max + 1] = {};
  static int cb(const nlattr* attr, void* data) {
    if (mnl_attr_type_valid(attr, Max) < 0) return MNL_CB_OK;  // newer kernel attribute: skip
    return collect_attr(attr, static_cast<AttrTable*>(data)->tb);
  }
};

}  // namespace

const char* to_string(LinkEvent::Type t) {
  switch (t) {
    case LinkEvent::Type::kAdded: return "added";
    case LinkEvent::Type::kUpdated: return "updated";
    case LinkEvent::Type::kRemoved: return "removed";
  }
  return "?";
}

void InterfaceDiscovery::MnlDeleter::operator()(mnl_socket* s) const {
  mnl_socket_close(s);
}

Result<std::unique_ptr<InterfaceDiscovery>> InterfaceDiscovery::open(const DiscoveryOptions& opts, Callback cb) {
  auto classifier = LinkClassifier::create(opts);
  if (!classifier) return std::move(classifier).take_error();
  std::unique_ptr<InterfaceDiscovery> d(new InterfaceDiscovery(std::move(*classifier), std::move(cb)));

  d->events_.reset(mnl_socket_open(NETLINK_ROUTE));
  if (!d->events_) return Error::from_errno("mnl_socket_open(NETLINK_ROUTE)", "notifications");
  const unsigned groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
  if (mnl_socket_bind(d->events_.get(), groups, MNL_SOCKET_AUTOPID) < 0)
    return Error::from_errno("mnl_socket_bind", "rtnetlink link/addr/route groups");
  int fd = mnl_socket_get_fd(d->events_.get());
  int size = kRcvBuf;
  // FORCE passes net.core.rmem_max (needs CAP_NET_ADMIN); without it the
  // plain option gives what the sysctl allows, and overflow is handled.
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);

  d->requests_.reset(mnl_socket_open(NETLINK_ROUTE));
  if (!d->requests_) return Error::from_errno("mnl_socket_open(NETLINK_ROUTE)", "dumps");
  if (mnl_socket_bind(d->requests_.get(), 0, MNL_SOCKET_AUTOPID) < 0)
    return Error::from_errno("mnl_socket_bind", "rtnetlink dumps");

  d->wake_ = UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!d->wake_) return Error::from_errno("eventfd", "interface discovery");
  return d;
}

InterfaceDiscovery::~InterfaceDiscovery() {
  stop();
}

Result<void> InterfaceDiscovery::start() {
  // Subscribed before dumping (open() bound the groups), so nothing that
  // happens during the dump is lost; replaying it afterwards is idempotent.
  if (auto r = dump_all(); !r) return r;
  reconcile();
  thread_ = std::thread([this] { run(); });
  return ok();
}

void InterfaceDiscovery::stop() {
  if (!thread_.joinable()) return;
  std::uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
  thread_.join();
}

std::vector<std::pair<LinkInfo, LinkRole>> InterfaceDiscovery::current() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<LinkInfo, LinkRole>> out;
  for (const auto& [i, lr] : selected_) out.push_back(lr);
  return out;
}

Result<void> InterfaceDiscovery::dump_all() {
  links_.clear();
  default_routes_.clear();
  if (auto r = dump(RTM_GETLINK, AF_UNSPEC); !r) return r;
  if (auto r = dump(RTM_GETROUTE, AF_INET); !r) return r;
  if (auto r = dump(RTM_GETROUTE, AF_INET6); !r) return r;
  if (auto r = dump(RTM_GETADDR, AF_UNSPEC); !r) return r;
  return ok();
}

Result<void> InterfaceDiscovery::dump(std::uint16_t type, std::uint8_t family) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = ++seq_;
  auto* gen = static_cast<rtgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtgenmsg)));
  gen->rtgen_family = family;
  const char* what = type == RTM_GETLINK    ? "RTM_GETLINK dump"
                     : type == RTM_GETROUTE ? "RTM_GETROUTE dump"
                                            : "RTM_GETADDR dump";
  if (mnl_socket_sendto(requests_.get(), nlh, nlh->nlmsg_len) < 0) return Error::from_errno("mnl_socket_sendto", what);
  const unsigned portid = mnl_socket_get_portid(requests_.get());
  const unsigned seq = seq_;
  while (true) {
    ssize_t n = mnl_socket_recvfrom(requests_.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno("mnl_socket_recvfrom", what);
    }
    int r = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portid, &InterfaceDiscovery::on_message, this);
    if (r == MNL_CB_STOP) return ok();
    if (r < 0) return Error::from_errno("mnl_cb_run", what);
  }
}

int InterfaceDiscovery::on_message(const nlmsghdr* nlh, void* self) {
  static_cast<InterfaceDiscovery*>(self)->handle(nlh);
  return MNL_CB_OK;
}

void InterfaceDiscovery::handle(const nlmsghdr* nlh) {
  switch (nlh->nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK: {
      const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
      const auto ifindex = static_cast<std::uint32_t>(ifi->ifi_index);
      // The bridge announces its ports' state (STP state, flags; a port
      // leaving it as RTM_DELLINK) with family AF_BRIDGE on the same group:
      // those carry neither IFLA_LINKINFO nor IFLA_LINK_NETNSID and would
      // make a pod veth that is a bridge port look like a plain (or deleted)
      // link, unhooking it.
      if (ifi->ifi_family == AF_BRIDGE) return;
      if (nlh->nlmsg_type == RTM_DELLINK) {
        links_.erase(ifindex);
        // IPv4 routes through a deleted device are flushed without RTM_DELROUTE.
        std::erase_if(default_routes_, [&](const RouteKey& k) { return std::get<3>(k) == ifindex; });
        return;
      }
      AttrTable<IFLA_MAX> a;
      mnl_attr_parse(nlh, sizeof(ifinfomsg), &AttrTable<IFLA_MAX>::cb, &a);
      LinkInfo& l = links_[ifindex];
      std::vector<IpAddress> keep = std::move(l.addresses);
      l = LinkInfo{};
      l.addresses = std::move(keep);
      l.ifindex = ifindex;
      l.up = (ifi->ifi_flags & IFF_UP) != 0;
      if (a.tb[IFLA_IFNAME] && mnl_attr_validate(a.tb[IFLA_IFNAME], MNL_TYPE_STRING) >= 0)
        l.name = mnl_attr_get_str(a.tb[IFLA_IFNAME]);
      if (a.tb[IFLA_LINK] && mnl_attr_validate(a.tb[IFLA_LINK], MNL_TYPE_U32) >= 0)
        l.peer_ifindex = mnl_attr_get_u32(a.tb[IFLA_LINK]);
      if (a.tb[IFLA_LINK_NETNSID] && mnl_attr_validate(a.tb[IFLA_LINK_NETNSID], MNL_TYPE_U32) >= 0)
        l.link_netnsid = static_cast<std::int32_t>(mnl_attr_get_u32(a.tb[IFLA_LINK_NETNSID]));
      if (a.tb[IFLA_LINKINFO]) {
        AttrTable<IFLA_INFO_MAX> info;
        if (mnl_attr_parse_nested(a.tb[IFLA_LINKINFO], &AttrTable<IFLA_INFO_MAX>::cb, &info) >= 0 &&
            info.tb[IFLA_INFO_KIND] && mnl_attr_validate(info.tb[IFLA_INFO_KIND], MNL_TYPE_STRING) >= 0)
          l.kind = mnl_attr_get_str(info.tb[IFLA_INFO_KIND]);
      }
      return;
    }
    case RTM_NEWROUTE:
    case RTM_DELROUTE: {
      const auto* rt = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
      if (rt->rtm_dst_len != 0 || rt->rtm_type != RTN_UNICAST) return;
      AttrTable<RTA_MAX> a;
      mnl_attr_parse(nlh, sizeof(rtmsg), &AttrTable<RTA_MAX>::cb, &a);
      std::uint32_t table = rt->rtm_table;
      if (a.tb[RTA_TABLE] && mnl_attr_validate(a.tb[RTA_TABLE], MNL_TYPE_U32) >= 0)
        table = mnl_attr_get_u32(a.tb[RTA_TABLE]);
      if (table != RT_TABLE_MAIN) return;
      if (a.tb[RTA_DST] && mnl_attr_get_payload_len(a.tb[RTA_DST]) > 0 && rt->rtm_dst_len != 0) return;
      std::uint32_t prio = 0;
      if (a.tb[RTA_PRIORITY] && mnl_attr_validate(a.tb[RTA_PRIORITY], MNL_TYPE_U32) >= 0)
        prio = mnl_attr_get_u32(a.tb[RTA_PRIORITY]);
      std::vector<std::uint32_t> oifs;
      if (a.tb[RTA_OIF] && mnl_attr_validate(a.tb[RTA_OIF], MNL_TYPE_U32) >= 0)
        oifs.push_back(mnl_attr_get_u32(a.tb[RTA_OIF]));
      if (a.tb[RTA_MULTIPATH]) {
        // ECMP default route: one rtnexthop per path (UAPI RTNH_* macros).
        auto* nh = static_cast<const rtnexthop*>(mnl_attr_get_payload(a.tb[RTA_MULTIPATH]));
        int len = mnl_attr_get_payload_len(a.tb[RTA_MULTIPATH]);
        for (; RTNH_OK(nh, len); len -= NLMSG_ALIGN(nh->rtnh_len), nh = RTNH_NEXT(nh))
          oifs.push_back(static_cast<std::uint32_t>(nh->rtnh_ifindex));
      }
      // `ip route replace` sends only the new route, flagged NLM_F_REPLACE:
      // the route it replaced (same family, table, metric) is gone.
      if (nlh->nlmsg_type == RTM_NEWROUTE && (nlh->nlmsg_flags & NLM_F_REPLACE))
        std::erase_if(default_routes_, [&](const RouteKey& k) {
          return std::get<0>(k) == rt->rtm_family && std::get<1>(k) == table && std::get<2>(k) == prio;
        });
      for (std::uint32_t oif : oifs) {
        RouteKey k{rt->rtm_family, table, prio, oif};
        if (nlh->nlmsg_type == RTM_NEWROUTE)
          default_routes_.insert(k);
        else
          default_routes_.erase(k);
      }
      return;
    }
    case RTM_NEWADDR:
    case RTM_DELADDR: {
      const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
      auto it = links_.find(ifa->ifa_index);
      if (it == links_.end()) return;
      AttrTable<IFA_MAX> a;
      mnl_attr_parse(nlh, sizeof(ifaddrmsg), &AttrTable<IFA_MAX>::cb, &a);
      // IFA_LOCAL is the interface's own address on point-to-point links,
      // where IFA_ADDRESS is the peer's.
      const nlattr* attr = a.tb[IFA_LOCAL] ? a.tb[IFA_LOCAL] : a.tb[IFA_ADDRESS];
      if (!attr) return;
      IpAddress ip;
      std::size_t len = mnl_attr_get_payload_len(attr);
      if (ifa->ifa_family == AF_INET && len == 4) {
        std::uint32_t v;
        std::memcpy(&v, mnl_attr_get_payload(attr), 4);
        ip = IpAddress::v4(v);
      } else if (ifa->ifa_family == AF_INET6 && len == 16) {
        std::uint8_t b[16];
        std::memcpy(b, mnl_attr_get_payload(attr), 16);
        ip = IpAddress::v6(b);
      } else {
        return;
      }
      auto& addrs = it->second.addresses;
      auto pos = std::find(addrs.begin(), addrs.end(), ip);
      if (nlh->nlmsg_type == RTM_NEWADDR && pos == addrs.end()) addrs.push_back(ip);
      if (nlh->nlmsg_type == RTM_DELADDR && pos != addrs.end()) addrs.erase(pos);
      return;
    }
    default: return;
  }
}

void InterfaceDiscovery::reconcile() {
  std::set<std::uint32_t> route_devs;
  for (const auto& k : default_routes_) route_devs.insert(std::get<3>(k));
  std::vector<LinkEvent> events;
  {
    std::lock_guard lock(mu_);
    for (auto it = selected_.begin(); it != selected_.end();) {
      auto l = links_.find(it->first);
      std::optional<LinkRole> role;
      if (l != links_.end()) role = classifier_.classify(l->second, route_devs);
      if (!role || *role != it->second.second || l->second.name != it->second.first.name) {
        events.push_back({LinkEvent::Type::kRemoved, it->second.first, it->second.second});
        it = selected_.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& [ifindex, link] : links_) {
      auto role = classifier_.classify(link, route_devs);
      if (!role) continue;
      auto it = selected_.find(ifindex);
      if (it == selected_.end()) {
        selected_.emplace(ifindex, std::make_pair(link, *role));
        events.push_back({LinkEvent::Type::kAdded, link, *role});
      } else if (it->second.first.addresses != link.addresses || it->second.first.up != link.up) {
        it->second.first = link;
        events.push_back({LinkEvent::Type::kUpdated, link, *role});
      }
    }
  }
  for (const auto& e : events) cb_(e);
}

void InterfaceDiscovery::run() {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
  pollfd fds[2] = {{mnl_socket_get_fd(events_.get()), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
  while (true) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    // Drain what is queued, then reconcile once: a burst of notifications
    // (a pod: link, addresses, routes) becomes one round of events.
    bool resync = false;
    while (true) {
      ssize_t n = recv(fds[0].fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == ENOBUFS) {  // notifications were lost: the kernel's state is the truth
          resync = true;
          continue;
        }
        break;  // EAGAIN: drained
      }
      mnl_cb_run(buf.data(), static_cast<size_t>(n), 0, 0, &InterfaceDiscovery::on_message, this);
    }
    if (resync) {
      resyncs_.fetch_add(1);
      (void)dump_all();
    }
    reconcile();
  }
}

}  // namespace netring::agent::discovery
