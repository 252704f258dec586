#include "pkg/xdp/socket.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cstring>

namespace netring::xdp::sys {

Result<UniqueFd> open_socket(const std::string& context) {
  int fd = ::socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd >= 0) return UniqueFd(fd);
  auto e = Error::from_errno("socket(AF_XDP)", context);
  if (e.code() == EPERM || e.code() == EACCES)
    return std::move(e).with_hint("an AF_XDP socket needs CAP_NET_RAW in the network namespace's user namespace");
  if (e.code() == EAFNOSUPPORT)
    return std::move(e).with_hint("the kernel has no AF_XDP (CONFIG_XDP_SOCKETS, Linux 4.18+)");
  return e;
}

Result<void> set_ring_size(int fd, int opt, std::uint32_t entries, const std::string& context) {
  if (::setsockopt(fd, SOL_XDP, opt, &entries, sizeof(entries)) == 0) return ok();
  const char* name = opt == XDP_RX_RING          ? "setsockopt(XDP_RX_RING)"
                     : opt == XDP_TX_RING        ? "setsockopt(XDP_TX_RING)"
                     : opt == XDP_UMEM_FILL_RING ? "setsockopt(XDP_UMEM_FILL_RING)"
                                                 : "setsockopt(XDP_UMEM_COMPLETION_RING)";
  return Error::from_errno(name, context + ", " + std::to_string(entries) + " entries");
}

Result<void> bind(int fd, std::uint32_t ifindex, std::uint32_t queue, std::uint16_t flags, int shared_umem_fd,
                  const std::string& context) {
  struct sockaddr_xdp sa {};
  sa.sxdp_family = AF_XDP;
  sa.sxdp_flags = flags;
  sa.sxdp_ifindex = ifindex;
  sa.sxdp_queue_id = queue;
  sa.sxdp_shared_umem_fd = shared_umem_fd >= 0 ? static_cast<std::uint32_t>(shared_umem_fd) : 0;
  if (::bind(fd, reinterpret_cast<struct sockaddr*>(&sa), sizeof(sa)) == 0) return ok();
  auto e = Error::from_errno("bind(AF_XDP)", context);
  switch (e.code()) {
    case EOPNOTSUPP:
    case EPROTONOSUPPORT:
      if (flags & XDP_ZEROCOPY) return std::move(e).with_hint("the driver has no AF_XDP zero-copy support");
      break;
    case EBUSY: return std::move(e).with_hint("another AF_XDP socket (or UMEM) is already bound to this queue");
    case EINVAL:
      if (flags & XDP_USE_SG) return std::move(e).with_hint("multi-buffer (XDP_USE_SG) needs Linux 6.6+");
      return std::move(e).with_hint("queue beyond the interface's queue count, or a flag the kernel lacks");
    default: break;
  }
  return e;
}

Result<struct xdp_statistics> statistics(int fd) {
  struct xdp_statistics st {};
  socklen_t len = sizeof(st);
  if (::getsockopt(fd, SOL_XDP, XDP_STATISTICS, &st, &len) != 0) return Error::from_errno("getsockopt(XDP_STATISTICS)");
  return st;
}

Result<bool> zero_copy_in_force(int fd) {
  struct xdp_options opts {};
  socklen_t len = sizeof(opts);
  if (::getsockopt(fd, SOL_XDP, XDP_OPTIONS, &opts, &len) != 0) return Error::from_errno("getsockopt(XDP_OPTIONS)");
  return (opts.flags & XDP_OPTIONS_ZEROCOPY) != 0;
}

Result<void> set_busy_poll(int fd, const BusyPoll& bp, const std::string& context) {
  auto set = [&](int opt, const char* name, int v) -> Result<void> {
    if (::setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v)) == 0) return ok();
    auto e = Error::from_errno(name, context);
    if (e.code() == EPERM) return std::move(e).with_hint("raising SO_BUSY_POLL needs CAP_NET_ADMIN");
    if (e.code() == ENOPROTOOPT) return std::move(e).with_hint("needs Linux 5.11+ for AF_XDP busy polling");
    return e;
  };
  if (bp.prefer) {
    if (auto r = set(SO_PREFER_BUSY_POLL, "setsockopt(SO_PREFER_BUSY_POLL)", 1); !r) return r;
  }
  if (bp.usecs != 0) {
    if (auto r = set(SO_BUSY_POLL, "setsockopt(SO_BUSY_POLL)", static_cast<int>(bp.usecs)); !r) return r;
  }
  if (bp.budget != 0) {
    if (auto r = set(SO_BUSY_POLL_BUDGET, "setsockopt(SO_BUSY_POLL_BUDGET)", static_cast<int>(bp.budget)); !r) return r;
  }
  return ok();
}

namespace {
bool retry_later(int err) {
  return err == EAGAIN || err == EBUSY || err == ENOBUFS || err == EINTR;
}
}  // namespace

Result<void> kick_tx(int fd, const std::string& context) {
  if (::sendto(fd, nullptr, 0, MSG_DONTWAIT, nullptr, 0) >= 0 || retry_later(errno)) return ok();
  auto e = Error::from_errno("sendto(AF_XDP TX kick)", context);
  if (e.code() == ENETDOWN) return std::move(e).with_hint("the interface is down");
  if (e.code() == ENXIO) return std::move(e).with_hint("the socket is not bound, or its device went away");
  return e;
}

Result<void> kick_rx(int fd, const std::string& context) {
  if (::recvfrom(fd, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr) >= 0 || retry_later(errno)) return ok();
  auto e = Error::from_errno("recvfrom(AF_XDP RX kick)", context);
  if (e.code() == ENETDOWN) return std::move(e).with_hint("the interface is down");
  return e;
}

Result<bool> wait_readable(int fd, int timeout_ms, const std::string& context) {
  struct pollfd p {
    fd, POLLIN, 0
  };
  int r = ::poll(&p, 1, timeout_ms);
  if (r < 0) {
    if (errno == EINTR) return false;
    return Error::from_errno("poll(AF_XDP)", context);
  }
  if (r > 0 && (p.revents & (POLLERR | POLLNVAL)))
    return Error("poll(AF_XDP)", EIO, context, "socket error (device gone?)");
  return r > 0 && (p.revents & POLLIN);
}

}  // namespace netring::xdp::sys
