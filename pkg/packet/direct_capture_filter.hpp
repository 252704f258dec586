// The classic BPF filter of the no-BPF rung: AF_PACKET sockets bound to no
// interface capture directly on the hooked interfaces, and each packet that
// crosses the node must be kept exactly once although it is seen at every
// interface it passes (pod A -> pod B is received on A's host-side veth and
// transmitted on B's).
//
// The rule, evaluated in the kernel on every packet before it reaches a ring:
//   1. the interface (skb->dev) is not hooked                 -> drop
//   2. it was received (sll_pkttype != PACKET_OUTGOING)        -> sample
//      Every packet enters the node through exactly one interface: a pod
//      veth (from the pod) or a NIC (from the network).
//   3. it is transmitted on a hooked *non-physical* interface  -> drop
//      (it entered somewhere else and was kept there; traffic the node
//      itself sends to a pod is the exception this misses, see below)
//   4. it is transmitted on a *physical* interface and its IP source is one
//      of the node's own addresses (locally originated)        -> sample
//      otherwise (forwarded from a pod: kept at the pod's veth) -> drop
//
// What a classic filter cannot see decides the limits, stated here so they
// are not mistaken for bugs:
//   - "locally originated" is judged by source address, as classic BPF has
//     no skb->sk or ingress_ifindex (the TC sampler of the BPF rungs uses
//     ingress_ifindex). Pod traffic masqueraded to a node address on the
//     way out is therefore kept twice (at the pod veth and at the NIC).
//   - Packets the node itself sends into a pod veth (kubelet probes) are
//     not kept; their replies, received on the veth, are.
//   - The IP header is read at offset 14: an in-band (not offloaded) VLAN
//     tag on an outgoing NIC packet hides its source, and it is dropped.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <vector>

#include "pkg/common/error.hpp"
#include "pkg/packet/filter.hpp"

namespace netring::packet {

struct DirectCaptureRule {
  std::vector<std::uint32_t> hooked;    // ifindexes: pod veths (host side) and NICs
  std::vector<std::uint32_t> physical;  // the NICs among them
  std::vector<in_addr> local_v4;        // the node's own addresses
  std::vector<in6_addr> local_v6;
};

// The rule above followed by 1-in-rate sampling (SKF_AD_RANDOM) and the
// snap length. Errors when the program would exceed BPF_MAXINSNS.
Result<ClassicProgram> direct_capture_filter(const DirectCaptureRule& rule, std::uint32_t rate, std::uint32_t snap_len);

}  // namespace netring::packet
