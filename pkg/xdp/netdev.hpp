// What AF_XDP needs to know about a network interface, read in the
// calling thread's network namespace (rtnetlink, not sysfs: /sys shows the
// namespace it was mounted in, not the caller's).
#pragma once

#include <cstdint>
#include <string>

#include "pkg/common/error.hpp"

namespace netring::xdp {

struct NetdevInfo {
  std::string name;
  std::uint32_t ifindex = 0;
  std::uint32_t rx_queues = 0;  // IFLA_NUM_RX_QUEUES
  std::uint32_t tx_queues = 0;  // IFLA_NUM_TX_QUEUES
  std::uint32_t mtu = 0;
  bool up = false;
};

// ENODEV with the name when there is no such interface.
Result<NetdevInfo> netdev_info(const std::string& name);

}  // namespace netring::xdp
