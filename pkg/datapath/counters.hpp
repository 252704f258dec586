// Exact interface counters and per-stage loss counters, summed over CPUs
// from the sampler's and mirror's per-CPU maps.
//
// How the interface counters compare with /sys/class/net/<dev>/statistics:
// a veth counts one packet of skb->len per skb, GSO super-packets included;
// `skbs` and `bytes` here are the same quantities. `segs` counts
// max(1, gso_segs) per skb: the packets that are (or were, before GRO) on
// the wire. A NIC driver usually counts wire segments in tx_packets and the
// replicated headers in tx_bytes, so `bytes` is below its tx_bytes by
// (segs - skbs) header lengths; `wire_bytes` adds them back (the headers of
// each GSO skb, read by the sampler, times segs - 1).
#pragma once

#include <cstdint>
#include <vector>

#include "pkg/common/error.hpp"

namespace netring::datapath {

struct InterfaceCounters {
  std::uint32_t ifindex = 0;
  std::uint32_t direction = 0;  // NETRING_DIR_*
  std::uint64_t skbs = 0;
  std::uint64_t segs = 0;
  std::uint64_t bytes = 0;
  std::uint64_t wire_bytes = 0;
  std::uint64_t gso_unparsed = 0;  // GSO skbs whose headers were unreadable (bytes stand in)
};

// Every counted sample that did not reach user space shows up in one of
// these (or in the capture source's own Stats, or as a sequence gap).
struct StageCounters {
  std::uint64_t clone_attempts = 0;
  std::uint64_t clone_failures = 0;   // bpf_clone_redirect failed, any reason (clone_nomem included)
  std::uint64_t clone_nomem = 0;      // ... with ENOMEM (skb_clone, or the original's head copy)
  std::uint64_t heartbeat_stale = 0;  // chosen but not cloned: agent heartbeat stale
  std::uint64_t skip_forwarded = 0;   // egress packets sampled at their ingress instead
  std::uint64_t skip_tunnel = 0;      // encapsulations leaving a NIC
  std::uint64_t skip_ifindex = 0;
  std::uint64_t no_config = 0;
  std::uint64_t mirror_passes = 0;
  std::uint64_t mirror_gso_apart = 0;  // passes sent whole to the far end's socket (AF_XDP rung)
  std::uint64_t mirror_foreign = 0;
  std::uint64_t mirror_errors = 0;  // trim + head errors
  std::uint64_t sequence_gaps = 0;  // seen in user space (SampleDecoder)
  // Exact flow counting in the kernel: skbs counted, and skbs that were not
  // (left to the estimator) by reason.
  std::uint64_t flow_counted = 0;
  std::uint64_t flow_map_full = 0;
  std::uint64_t flow_declined = 0;   // fragments, IPv6 extension headers
  std::uint64_t flow_malformed = 0;  // headers the user-space parser rejects too
  std::uint64_t flow_no_map = 0;
  std::uint64_t forced_copies = 0;  // copies taken with p = 1 (DNS, TCP control)
  std::uint64_t scaled_copies = 0;  // copies drawn at a rate the copy budget scaled up
  std::uint64_t clones_accepted() const { return clone_attempts - clone_failures; }
  std::uint64_t flow_uncounted() const { return flow_map_full + flow_declined + flow_malformed + flow_no_map; }
};

// Sums the per-CPU values of a PERCPU_ARRAY of u64, `n` entries.
Result<std::vector<std::uint64_t>> read_percpu_u64_array(int map_fd, std::uint32_t n);

// One slot (interface and direction) of the sampler's if_counters array,
// summed over CPUs, labelled with the interface it belongs to.
Result<InterfaceCounters> read_interface_slot(int if_counters_fd, std::uint32_t index, std::uint32_t ifindex,
                                              std::uint32_t direction);

Result<StageCounters> read_stage_counters(int sampler_stats_fd, int mirror_stats_fd);

// The copy budget's state over CPUs (sample_meta.h, netring_copy_scale).
struct CopyScale {
  std::uint32_t max_scale = 1;  // the largest scale in force on any CPU (1: none scaled)
  std::uint32_t cpus_scaled = 0;
  std::uint64_t raises = 0;  // windows that ended with a CPU's scale raised
};
Result<CopyScale> read_copy_scale(int copy_scale_fd);

}  // namespace netring::datapath
