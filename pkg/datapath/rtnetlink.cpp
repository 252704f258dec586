#include "pkg/datapath/rtnetlink.hpp"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <array>
#include <cerrno>
#include <ctime>
#include <utility>
#include <vector>

namespace netring::datapath {

Result<Rtnetlink> Rtnetlink::open() {
  mnl_socket* s = mnl_socket_open(NETLINK_ROUTE);
  if (s == nullptr) return Error::from_errno("mnl_socket_open(NETLINK_ROUTE)");
  if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
    Error e = Error::from_errno("mnl_socket_bind(NETLINK_ROUTE)");
    mnl_socket_close(s);
    return e;
  }
  Rtnetlink r(s);
  r.seq_ = static_cast<std::uint32_t>(::time(nullptr));
  return r;
}

Rtnetlink::Rtnetlink(Rtnetlink&& o) noexcept : sock_(std::exchange(o.sock_, nullptr)), seq_(o.seq_) {}

Rtnetlink::~Rtnetlink() {
  if (sock_ != nullptr) mnl_socket_close(sock_);
}

Result<void> Rtnetlink::request(nlmsghdr* nlh, const std::string& what) {
  nlh->nlmsg_flags |= NLM_F_ACK;
  const std::uint32_t seq = nlh->nlmsg_seq;
  const std::uint32_t portid = mnl_socket_get_portid(sock_);
  if (mnl_socket_sendto(sock_, nlh, nlh->nlmsg_len) < 0) return Error::from_errno("mnl_socket_sendto", what);
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(sock_, buf.data(), buf.size());
    if (n < 0) return Error::from_errno("mnl_socket_recvfrom", what);
    // mnl_cb_run turns an NLMSG_ERROR with a non-zero code into -1/errno
    // and an ACK (code 0) into MNL_CB_STOP.
    const int ret = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portid, nullptr, nullptr);
    if (ret == MNL_CB_ERROR) {
      Error e = Error::from_errno("rtnetlink", what);
      if (e.code() == EPERM) return std::move(e).with_hint("needs CAP_NET_ADMIN");
      return e;
    }
    if (ret == MNL_CB_STOP) return ok();
  }
}

}  // namespace netring::datapath
