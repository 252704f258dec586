// Turns peeked RX descriptors into packet views. Inline: this is the
// per-packet part of XdpSocket::receive().
#pragma once

#include <cstdint>

#include "pkg/xdp/ring.hpp"
#include "pkg/xdp/umem_layout.hpp"
#include "pkg/xdp/xdp_packet.hpp"

namespace netring::xdp {

struct Assembled {
  std::uint32_t packets = 0;
  std::uint32_t descs = 0;    // descriptors used, packets dropped included
  std::uint32_t invalid = 0;  // packets dropped because of a bad descriptor
  std::uint64_t bytes = 0;
};

// One descriptor per packet (no XDP_USE_SG): all n are used.
inline Assembled assemble_single(const RxRing& rx, std::uint32_t idx, std::uint32_t n, const UmemLayout& um,
                                 RxPacket* packets, RxFragment* frags) {
  Assembled a;
  for (std::uint32_t i = 0; i < n; ++i) {
    const struct xdp_desc& d = rx.at(idx + i);
    if (!um.contains(d.addr, d.len)) [[unlikely]] {
      ++a.invalid;
      continue;
    }
    const std::byte* p = um.data(d.addr);
    frags[a.packets] = {p, d.len};
    packets[a.packets] = {p, d.len, d.len, 1, &frags[a.packets], d.addr};
    a.bytes += d.len;
    ++a.packets;
  }
  a.descs = n;
  return a;
}

// Multi-buffer: a packet is a run of descriptors with XDP_PKT_CONTD on all
// but the last. Stops after max_packets, or before a packet whose last
// descriptor is not among the n (the caller un-peeks n - descs), so a
// batch never ends inside a packet. A packet with any descriptor outside
// its frame is dropped whole (all its descriptors still count as used, so
// its frames are recycled).
inline Assembled assemble_multi(const RxRing& rx, std::uint32_t idx, std::uint32_t n, std::uint32_t max_packets,
                                const UmemLayout& um, RxPacket* packets, RxFragment* frags) {
  Assembled a;
  std::uint32_t i = 0, f = 0;
  while (i < n && a.packets < max_packets) {
    const std::uint32_t start = i, fstart = f;
    std::uint32_t total = 0;
    bool bad = false, complete = false;
    while (i < n) {
      const struct xdp_desc& d = rx.at(idx + i++);
      if (um.contains(d.addr, d.len)) [[likely]] {
        frags[f++] = {um.data(d.addr), d.len};
      } else {
        bad = true;
      }
      total += d.len;
      if ((d.options & XDP_PKT_CONTD) == 0) {
        complete = true;
        break;
      }
    }
    if (!complete) {  // its last fragment is not in the ring yet
      i = start;
      break;
    }
    if (bad) [[unlikely]] {
      ++a.invalid;
      f = fstart;
      continue;
    }
    packets[a.packets++] = {frags[fstart].data, frags[fstart].len, total,
                            f - fstart,         &frags[fstart],    rx.at(idx + start).addr};
    a.bytes += total;
  }
  a.descs = i;
  return a;
}

}  // namespace netring::xdp
