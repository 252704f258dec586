// The AF_XDP socket's system calls, one function each, errors as values
// with the operation, the object and (for EPERM & co.) what to do about it.
#pragma once

#include <cstdint>
#include <string>

#include "pkg/common/error.hpp"
#include "pkg/common/fd.hpp"
#include "pkg/xdp/ffi.hpp"

namespace netring::xdp::sys {

// socket(AF_XDP, SOCK_RAW): EPERM names CAP_NET_RAW, EAFNOSUPPORT a kernel
// built without CONFIG_XDP_SOCKETS.
Result<UniqueFd> open_socket(const std::string& context = {});

// XDP_RX_RING / XDP_TX_RING / XDP_UMEM_FILL_RING / XDP_UMEM_COMPLETION_RING.
Result<void> set_ring_size(int fd, int opt, std::uint32_t entries, const std::string& context);

Result<void> bind(int fd, std::uint32_t ifindex, std::uint32_t queue, std::uint16_t flags, int shared_umem_fd,
                  const std::string& context);

// XDP_STATISTICS; kernels before 5.9 fill only the first three counters.
Result<struct xdp_statistics> statistics(int fd);

// XDP_OPTIONS: true when the bound socket runs in zero-copy mode.
Result<bool> zero_copy_in_force(int fd);

struct BusyPoll {
  std::uint32_t usecs = 0;   // SO_BUSY_POLL; 0 = off
  std::uint32_t budget = 0;  // SO_BUSY_POLL_BUDGET; 0 = kernel default
  bool prefer = false;       // SO_PREFER_BUSY_POLL
};
Result<void> set_busy_poll(int fd, const BusyPoll& bp, const std::string& context);

// need_wakeup kicks. The kernel answers EAGAIN/EBUSY/ENOBUFS when it could
// not take everything now (budget spent, completion ring full, no skb
// memory): the caller simply retries on its next call, so those are
// success here. ENETDOWN/ENXIO and the rest are real errors.
Result<void> kick_tx(int fd, const std::string& context);
Result<void> kick_rx(int fd, const std::string& context);

// poll(2) for POLLIN; returns whether the fd became readable.
Result<bool> wait_readable(int fd, int timeout_ms, const std::string& context);

}  // namespace netring::xdp::sys
