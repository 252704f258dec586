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
                                 RxPacket* packets) {
  Assembled a;
  for (std::uint32_t i = 0; i < n; ++i) {
    const struct xdp_desc& d = rx.at(idx + i);
    if (!um.contains(d.addr, d.len)) [[unlikely]] {
      ++a.invalid;
      continue;
    }
    const std::byte* data = um.data(d.addr);
    // The kernel wrote the packet from another CPU: start pulling it in
    // now, so the caller's first touch does not wait for it alone.
    __builtin_prefetch(data);
    packets[a.packets] = {{data, d.len}, d.len, 1, nullptr};
    a.bytes += d.len;
    ++a.packets;
  }
  a.descs = n;
  return a;
}

// for_each_packet()'s first pass: copies n descriptors out of the ring into
// batch, starts pulling each packet's first line in, and tells whether
// every one lies inside its frame of an aligned UMEM (then the second pass,
// which reads only the copy, needs no check per packet). One running flag,
// no branch per descriptor: the loop stays short enough for the core to
// keep many of the cache misses on ring and packets (written by the kernel
// on another CPU) in flight at once. Unaligned mode always answers false.
inline bool take_checked(const RxRing& rx, std::uint32_t idx, std::uint32_t n, const UmemLayout& um,
                         struct xdp_desc* batch) {
  const struct xdp_desc* const ring = rx.entries();
  const std::uint32_t mask = rx.mask();
  bool ok = !um.unaligned;
  for (std::uint32_t i = 0; i < n; ++i) {
    const struct xdp_desc d = ring[(idx + i) & mask];
    batch[i] = d;
    ok &= um.contains_aligned(d.addr, d.len);
    __builtin_prefetch(um.base + d.addr);  // a hint: never faults, even on a bad address
  }
  return ok;
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
    packets[a.packets++] = {frags[fstart], total, f - fstart, &frags[fstart]};
    a.bytes += total;
  }
  a.descs = i;
  return a;
}

}  // namespace netring::xdp
