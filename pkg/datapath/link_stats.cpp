#include "pkg/datapath/link_stats.hpp"

#include <net/if.h>  // before linux/ headers: glibc and the UAPI both define IFF_*

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <cstring>
#include <string>
#include <vector>

namespace netring::datapath {

namespace {

struct Parsed {
  LinkCounts counts;
  bool found = false;
};

int attr_cb(const nlattr* a, void* data) {
  auto* p = static_cast<Parsed*>(data);
  if (mnl_attr_get_type(a) == IFLA_STATS64 && mnl_attr_get_payload_len(a) >= sizeof(rtnl_link_stats64)) {
    rtnl_link_stats64 st;
    std::memcpy(&st, mnl_attr_get_payload(a), sizeof st);  // attribute payloads are only 4-byte aligned
    p->counts.rx_packets = st.rx_packets;
    p->counts.rx_bytes = st.rx_bytes;
    p->found = true;
  }
  return MNL_CB_OK;
}

int link_cb(const nlmsghdr* nlh, void* data) {
  mnl_attr_parse(nlh, sizeof(ifinfomsg), attr_cb, data);
  return MNL_CB_OK;
}

}  // namespace

void LinkStats::Deleter::operator()(mnl_socket* s) const {
  mnl_socket_close(s);
}

Result<LinkStats> LinkStats::open(std::uint32_t ifindex) {
  LinkStats l;
  l.ifindex_ = ifindex;
  l.nl_.reset(mnl_socket_open(NETLINK_ROUTE));
  if (!l.nl_) return Error::from_errno("mnl_socket_open(NETLINK_ROUTE)", "link statistics");
  if (mnl_socket_bind(l.nl_.get(), 0, MNL_SOCKET_AUTOPID) < 0)
    return Error::from_errno("mnl_socket_bind", "link statistics");
  return l;
}

Result<LinkCounts> LinkStats::read() const {
  const std::string ctx = "ifindex " + std::to_string(ifindex_);
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = 1;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = static_cast<int>(ifindex_);
  if (mnl_socket_sendto(nl_.get(), nlh, nlh->nlmsg_len) < 0) return Error::from_errno("rtnetlink RTM_GETLINK", ctx);
  ssize_t n = mnl_socket_recvfrom(nl_.get(), buf.data(), buf.size());
  if (n < 0) return Error::from_errno("rtnetlink RTM_GETLINK", ctx);
  Parsed p;
  if (mnl_cb_run(buf.data(), static_cast<size_t>(n), 1, mnl_socket_get_portid(nl_.get()), link_cb, &p) < 0)
    return Error::from_errno("rtnetlink RTM_GETLINK", ctx);
  if (!p.found) return Error("rtnetlink RTM_GETLINK", ENODATA, ctx, "no IFLA_STATS64 in the answer");
  return p.counts;
}

}  // namespace netring::datapath
