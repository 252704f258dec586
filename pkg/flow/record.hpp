// What a flow table keeps per flow: exact counts where the kernel counted
// the flow's packets, and estimates built from samples for the rest.
//
// A sample of a packet the kernel did not count carries its weight w = 1/p,
// p being the probability with which the sampler picked that packet
// (p = min(1, gso_segs / N)). Summing w gives the Horvitz-Thompson estimate
// of the packet count; summing w * x the estimate of the total of x (bytes).
// The matching unbiased variance estimate is sum((1 - p) / p^2 * x^2) =
// sum((w^2 - w) * x^2), kept beside each sum so that standard errors survive
// merging and aggregation (sums of independent samples add their
// variances). Exact counts are added as they are, with no variance (an
// observation with p = 1); samples of counted packets carry w = 0 and add
// only what the packet shows (flags, interface, time).
//
// Bytes are kept at L3 (the IP total length of the flow's packet, the inner
// one for tunnelled traffic; what conntrack's accounting counts) and as wire
// bytes (what a NIC or switch counts: every segment of a GSO skb with its own
// L2-L4 headers, outer headers included; without preamble and FCS).
#pragma once

#include <algorithm>
#include <cstdint>

#include "pkg/flow/direction.hpp"

namespace netring::flow {

// The capture worker's knowledge of one sample, beside its bytes.
struct SampleInfo {
  double weight = 1.0;             // 1/p, as the sampler set it; 0: the packet is in the exact counts
  std::uint64_t timestamp_ns = 0;  // CLOCK_MONOTONIC; 0: the table uses its clock
  std::uint32_t ifindex = 0;
  std::uint32_t wire_len = 0;  // the skb's bytes on the wire: every segment with its headers
  Direction direction = Direction::kUnknown;
  std::uint16_t segs = 1;  // GSO segments of the sampled skb (its p was min(1, segs / N))
};

// What the kernel counted of one flow in one period (kflow::KernelFlow,
// without the kernel's types).
struct ExactCounts {
  std::uint64_t packets = 0;  // skbs: a GSO super-packet is one, as in the estimates (and conntrack)
  std::uint64_t bytes_l3 = 0;
  std::uint64_t wire_bytes = 0;
  std::uint64_t first_ns = 0;  // CLOCK_MONOTONIC
  std::uint64_t last_ns = 0;
  std::uint32_t max_seg_len = 0;  // largest L3 bytes per segment seen
  std::uint32_t ifindex = 0;
  Direction direction = Direction::kUnknown;
  std::uint8_t tcp_flags = 0;
};

struct FlowRecord {
  static constexpr int kMaxInterfaces = 4;

  double packets = 0;          // exact + sum w
  double bytes_l3 = 0;         // exact + sum w * ip_len
  double bytes_wire = 0;       // exact + sum w * wire_len
  double var_packets = 0;      // sum (w^2 - w)
  double var_bytes_l3 = 0;     // sum (w^2 - w) * ip_len^2
  std::uint64_t first_ns = 0;  // CLOCK_MONOTONIC
  std::uint64_t last_ns = 0;
  std::uint32_t samples = 0;  // saturates at 2^32-1 (active timeouts export long before)
  // Interfaces the flow was sampled on: ifindex slots with three direction
  // bits each in iface_dirs (bit 0 ingress, bit 1 egress, bit 2 unknown; a
  // slot is free while its bits are 0). Fixed slots, no allocation; a fifth
  // interface sets kOverflowBit.
  std::uint32_t ifindex[kMaxInterfaces] = {};
  std::uint16_t iface_dirs = 0;
  std::uint8_t tcp_flags = 0;  // union of FIN..CWR (byte 13 of the TCP header)
  // The largest L3 bytes per GSO segment among the estimating samples and
  // the exact counts (ip_len / segs), in units of kSegUnit, rounded up and
  // saturating: the scale of what one unseen packet can hide (see
  // estimate_bytes_l3 with a rate).
  std::uint8_t seg_len_units = 0;

  static constexpr std::uint16_t kOverflowBit = 1u << 15;
  static constexpr std::uint32_t kSegUnit = 64;

  static std::uint8_t seg_units(std::uint32_t ip_len, std::uint16_t segs) {
    const std::uint32_t per_seg = ip_len / std::max<std::uint32_t>(1, segs);
    return static_cast<std::uint8_t>(std::min<std::uint32_t>(255, (per_seg + kSegUnit - 1) / kSegUnit));
  }
  std::uint32_t max_seg_len() const { return std::uint32_t{seg_len_units} * kSegUnit; }

  static std::uint8_t direction_bit(Direction d) {
    switch (d) {
      case Direction::kIngress: return 1;
      case Direction::kEgress: return 2;
      default: return 4;
    }
  }
  std::uint8_t directions(int slot) const { return (iface_dirs >> (3 * slot)) & 7; }
  bool interfaces_overflow() const { return iface_dirs & kOverflowBit; }

  void note_interface(std::uint32_t ifx, std::uint8_t dir_bit) {
    for (int i = 0; i < kMaxInterfaces; ++i) {
      const std::uint8_t d = directions(i);
      if (d == 0 || ifindex[i] == ifx) {
        ifindex[i] = ifx;
        iface_dirs |= static_cast<std::uint16_t>(dir_bit << (3 * i));
        return;
      }
    }
    iface_dirs |= kOverflowBit;
  }

  bool empty() const { return samples == 0 && packets == 0 && first_ns == 0; }

  // One sample of a packet whose IP total length is ip_len.
  void add(const SampleInfo& s, std::uint32_t ip_len, std::uint8_t flags, std::uint64_t ts) {
    const double w = s.weight;
    if (empty() || ts < first_ns) first_ns = ts;
    if (ts > last_ns) last_ns = ts;
    if (samples != UINT32_MAX) ++samples;
    tcp_flags |= flags;
    note_interface(s.ifindex, direction_bit(s.direction));
    if (w == 0) return;  // counted exactly in the kernel: nothing to estimate
    const double v = w * w - w;
    const double x = ip_len;
    packets += w;
    bytes_l3 += w * x;
    bytes_wire += w * s.wire_len;
    var_packets += v;
    var_bytes_l3 += v * x * x;
    // Multiply first: the division only runs when the maximum grows.
    if (ip_len > max_seg_len() * s.segs) seg_len_units = std::max(seg_len_units, seg_units(ip_len, s.segs));
  }

  // What the kernel counted of this flow in one period: exact, no variance.
  void add_exact(const ExactCounts& c) {
    if (empty() || c.first_ns < first_ns) first_ns = c.first_ns;
    if (c.last_ns > last_ns) last_ns = c.last_ns;
    packets += static_cast<double>(c.packets);
    bytes_l3 += static_cast<double>(c.bytes_l3);
    bytes_wire += static_cast<double>(c.wire_bytes);
    tcp_flags |= c.tcp_flags;
    if (c.max_seg_len > max_seg_len()) seg_len_units = std::max(seg_len_units, seg_units(c.max_seg_len, 1));
    note_interface(c.ifindex, direction_bit(c.direction));
  }

  // Two records of the same flow (two workers, or two periods).
  void merge(const FlowRecord& o) {
    if (o.empty()) return;
    if (empty()) {
      *this = o;
      return;
    }
    packets += o.packets;
    bytes_l3 += o.bytes_l3;
    bytes_wire += o.bytes_wire;
    var_packets += o.var_packets;
    var_bytes_l3 += o.var_bytes_l3;
    first_ns = std::min(first_ns, o.first_ns);
    last_ns = std::max(last_ns, o.last_ns);
    samples = static_cast<std::uint32_t>(std::min<std::uint64_t>(std::uint64_t{samples} + o.samples, UINT32_MAX));
    tcp_flags |= o.tcp_flags;
    seg_len_units = std::max(seg_len_units, o.seg_len_units);
    iface_dirs |= o.iface_dirs & kOverflowBit;
    for (int i = 0; i < kMaxInterfaces; ++i) {
      const std::uint8_t d = o.directions(i);
      if (d != 0) note_interface(o.ifindex[i], d);
    }
  }
};
static_assert(sizeof(FlowRecord) == 80, "FlowRecord + FlowKey fill two cache lines exactly");

}  // namespace netring::flow
