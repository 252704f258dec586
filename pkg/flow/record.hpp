// What a flow table keeps per flow: estimates built from samples.
//
// Every sample carries its weight w = 1/p, p being the probability with
// which the sampler picked that packet (p = min(1, gso_segs / N)). Summing w
// gives the Horvitz-Thompson estimate of the packet count; summing w * x the
// estimate of the total of x (bytes). The matching unbiased variance
// estimate is sum((1 - p) / p^2 * x^2) = sum((w^2 - w) * x^2), kept beside
// each sum so that standard errors survive merging and aggregation (sums of
// independent samples add their variances).
//
// Bytes are kept at L3 (the IP total length of the flow's packet, the inner
// one for tunnelled traffic; what conntrack's accounting counts) and at L2
// (the frame's length on the wire, outer headers included).
#pragma once

#include <algorithm>
#include <cstdint>

#include "pkg/capture/source.hpp"

namespace netring::flow {

using capture::Direction;

// The capture worker's knowledge of one sample, beside its bytes.
struct SampleInfo {
  double weight = 1.0;             // 1/p, as the sampler set it
  std::uint64_t timestamp_ns = 0;  // 0: the table uses its clock
  std::uint32_t ifindex = 0;
  std::uint32_t wire_len = 0;  // original length on the wire (L2)
  Direction direction = Direction::kUnknown;
  std::uint16_t segs = 1;  // GSO segments of the sampled skb (its p was min(1, segs / N))
};

struct FlowRecord {
  static constexpr int kMaxInterfaces = 4;

  double packets = 0;       // sum w
  double bytes_l3 = 0;      // sum w * ip_len
  double bytes_l2 = 0;      // sum w * wire_len
  double var_packets = 0;   // sum (w^2 - w)
  double var_bytes_l3 = 0;  // sum (w^2 - w) * ip_len^2
  std::uint64_t first_ns = 0;
  std::uint64_t last_ns = 0;
  std::uint32_t samples = 0;  // saturates at 2^32-1 (active timeouts export long before)
  // Interfaces the flow was sampled on: ifindex slots with three direction
  // bits each in iface_dirs (bit 0 ingress, bit 1 egress, bit 2 unknown; a
  // slot is free while its bits are 0). Fixed slots, no allocation; a fifth
  // interface sets kOverflowBit.
  std::uint32_t ifindex[kMaxInterfaces] = {};
  std::uint16_t iface_dirs = 0;
  std::uint8_t tcp_flags = 0;  // union of FIN..CWR (byte 13 of the TCP header)
  // The largest L3 bytes per GSO segment among the samples (ip_len / segs),
  // in units of kSegUnit, rounded up and saturating: the scale of what one
  // unseen packet can hide (see estimate_bytes_l3 with a rate).
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

  // One sample of a packet whose IP total length is ip_len.
  void add(const SampleInfo& s, std::uint32_t ip_len, std::uint8_t flags, std::uint64_t ts) {
    const double w = s.weight;
    const double v = w * w - w;
    const double x = ip_len;
    packets += w;
    bytes_l3 += w * x;
    bytes_l2 += w * s.wire_len;
    var_packets += v;
    var_bytes_l3 += v * x * x;
    if (samples == 0 || ts < first_ns) first_ns = ts;
    if (ts > last_ns) last_ns = ts;
    if (samples != UINT32_MAX) ++samples;
    tcp_flags |= flags;
    // Multiply first: the division only runs when the maximum grows.
    if (ip_len > max_seg_len() * s.segs) seg_len_units = std::max(seg_len_units, seg_units(ip_len, s.segs));
    note_interface(s.ifindex, direction_bit(s.direction));
  }

  // Two records of the same flow (two workers, or two periods).
  void merge(const FlowRecord& o) {
    if (o.samples == 0 && o.packets == 0) return;
    if (samples == 0 && packets == 0) {
      *this = o;
      return;
    }
    packets += o.packets;
    bytes_l3 += o.bytes_l3;
    bytes_l2 += o.bytes_l2;
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
