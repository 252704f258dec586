// One flow's exact counts for one drain period, as the sampler kept them in
// the kernel (bpf/flow_key.h): the key is a flow::FlowKey byte for byte.
#pragma once

#include <cstddef>
#include <cstdint>

#include "bpf/flow_key.h"
#include "pkg/flow/key.hpp"

namespace netring::kflow {

struct KernelFlow {
  flow::FlowKey key;
  netring_flow_counts counts;

  // The union of the TCP flags the kernel saw (a byte per flag there).
  std::uint8_t tcp_flags() const {
    std::uint8_t f = 0;
    for (int i = 0; i < 8; ++i)
      if (counts.tcp_flag_seen[i]) f |= static_cast<std::uint8_t>(1u << i);
    return f;
  }
};

static_assert(sizeof(flow::FlowKey) == sizeof(netring_flow_key), "the kernel key is a FlowKey");
static_assert(offsetof(flow::FlowKey, src_port) == offsetof(netring_flow_key, src_port));
static_assert(offsetof(flow::FlowKey, vni) == offsetof(netring_flow_key, vni));
static_assert(offsetof(flow::FlowKey, protocol) == offsetof(netring_flow_key, protocol));
static_assert(offsetof(flow::FlowKey, family) == offsetof(netring_flow_key, family));
static_assert(offsetof(flow::FlowKey, tunnel) == offsetof(netring_flow_key, tunnel));
static_assert(static_cast<std::uint8_t>(flow::Tunnel::kVxlan) == NETRING_TUNNEL_VXLAN);
static_assert(static_cast<std::uint8_t>(flow::Tunnel::kGeneve) == NETRING_TUNNEL_GENEVE);

}  // namespace netring::kflow
