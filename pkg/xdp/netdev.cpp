#include "pkg/xdp/netdev.hpp"

#include <net/if.h>  // before linux/ headers: glibc and the UAPI both define IFF_*

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <memory>
#include <vector>

namespace netring::xdp {

namespace {
struct MnlSocketDeleter {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlSocketDeleter>;

int attr_cb(const struct nlattr* a, void* data) {
  auto* info = static_cast<NetdevInfo*>(data);
  switch (mnl_attr_get_type(a)) {
    case IFLA_NUM_RX_QUEUES:
      if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0) info->rx_queues = mnl_attr_get_u32(a);
      break;
    case IFLA_NUM_TX_QUEUES:
      if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0) info->tx_queues = mnl_attr_get_u32(a);
      break;
    case IFLA_MTU:
      if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0) info->mtu = mnl_attr_get_u32(a);
      break;
    default: break;
  }
  return MNL_CB_OK;
}

int link_cb(const struct nlmsghdr* nlh, void* data) {
  auto* info = static_cast<NetdevInfo*>(data);
  auto* ifm = static_cast<const struct ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  info->up = (ifm->ifi_flags & IFF_UP) != 0;
  mnl_attr_parse(nlh, sizeof(*ifm), attr_cb, data);
  return MNL_CB_OK;
}
}  // namespace

Result<NetdevInfo> netdev_info(const std::string& name) {
  NetdevInfo info;
  info.name = name;
  if (name.empty() || name.size() >= IFNAMSIZ)
    return Error("interface lookup", ENODEV, "\"" + name + "\"", "unknown interface");
  info.ifindex = ::if_nametoindex(name.c_str());
  if (info.ifindex == 0) {
    auto e = Error::from_errno("if_nametoindex", name);
    if (e.code() == ENODEV || e.code() == ENXIO)
      return Error("interface lookup", ENODEV, name, "unknown interface in this network namespace");
    return e;
  }

  MnlSocket nl(mnl_socket_open(NETLINK_ROUTE));
  if (!nl) return Error::from_errno("mnl_socket_open(NETLINK_ROUTE)", name);
  if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) return Error::from_errno("mnl_socket_bind", name);
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  struct nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = 1;
  auto* ifm = static_cast<struct ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = static_cast<int>(info.ifindex);
  if (mnl_socket_sendto(nl.get(), nlh, nlh->nlmsg_len) < 0) return Error::from_errno("rtnetlink RTM_GETLINK", name);
  const unsigned portid = mnl_socket_get_portid(nl.get());
  // A request for one link is answered by exactly one message.
  ssize_t n = mnl_socket_recvfrom(nl.get(), buf.data(), buf.size());
  if (n < 0) return Error::from_errno("rtnetlink RTM_GETLINK", name);
  if (mnl_cb_run(buf.data(), n, 1, portid, link_cb, &info) < 0) return Error::from_errno("rtnetlink RTM_GETLINK", name);
  return info;
}

}  // namespace netring::xdp
