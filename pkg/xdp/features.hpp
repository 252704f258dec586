// Run-time probes, so one binary serves kernels from 5.15 to 6.18: what the
// running kernel's AF_XDP can do, and what a driver's XDP can do.
#pragma once

#include <cstdint>
#include <string>

#include "pkg/common/error.hpp"

namespace netring::xdp {

struct KernelFeatures {
  bool af_xdp = false;           // socket(AF_XDP) works here
  std::string af_xdp_error;      // why not, when !af_xdp
  bool need_wakeup = false;      // rings have a flags word (5.4+)
  bool multi_buffer = false;     // XDP_USE_SG accepted at bind (6.6+)
  bool tx_metadata_len = false;  // XDP_UMEM_TX_METADATA_LEN accepted (6.11+)
};

// Opens throw-away sockets; binds nothing to any device. Cheap; call once.
KernelFeatures probe_kernel_features();

// A driver's XDP features (NETDEV_XDP_ACT_*), from the generic-netlink
// "netdev" family (6.3+). known == false on kernels without it.
struct DriverXdpFeatures {
  bool known = false;
  std::uint64_t flags = 0;
  std::uint32_t zc_max_segs = 0;
  bool native() const;     // NETDEV_XDP_ACT_BASIC
  bool redirect() const;   // NETDEV_XDP_ACT_REDIRECT
  bool zero_copy() const;  // NETDEV_XDP_ACT_XSK_ZEROCOPY
  bool rx_sg() const;      // NETDEV_XDP_ACT_RX_SG
  std::string describe() const;
};
Result<DriverXdpFeatures> driver_xdp_features(std::uint32_t ifindex);

}  // namespace netring::xdp
