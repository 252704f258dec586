// Where a descriptor's bytes are in a UMEM: pure arithmetic on the area's
// base, size and chunk size, kept apart from the Umem object so the RX path
// (and its tests) can use it on any memory.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pkg/xdp/ffi.hpp"

namespace netring::xdp {

struct UmemLayout {
  std::byte* base = nullptr;
  std::uint64_t size = 0;
  std::uint32_t frame_size = 0;
  bool unaligned = false;

  // Unaligned mode keeps the data offset in the top 16 bits
  // (XSK_UNALIGNED_BUF_OFFSET_SHIFT); aligned mode uses plain offsets.
  std::uint64_t offset_of(std::uint64_t addr) const {
    if (unaligned) return (addr & ffi::kUnalignedAddrMask) + (addr >> ffi::kUnalignedOffsetShift);
    return addr;
  }
  std::byte* data(std::uint64_t addr) const { return base + offset_of(addr); }
  // The frame a descriptor address belongs to: what goes back into the fill ring.
  std::uint64_t frame_of(std::uint64_t addr) const {
    if (unaligned) return addr & ffi::kUnalignedAddrMask;
    return addr & ~static_cast<std::uint64_t>(frame_size - 1);
  }
  // Whether [addr, addr+len) lies inside the UMEM and inside one frame.
  bool contains(std::uint64_t addr, std::uint32_t len) const {
    if (!unaligned) return contains_aligned(addr, len);
    const std::uint64_t frame = frame_of(addr);
    const std::uint64_t start = offset_of(addr);
    return frame < size && start >= frame && start + len <= frame + frame_size && start + len <= size;
  }
  // contains() for aligned mode, on the RX hot path: size is a whole number
  // of frames (Umem makes it so), so a frame that starts below size ends
  // inside the UMEM, and the in-frame offset plus len (< 2^33, no wrap)
  // stays inside the frame. Non-short-circuit `&`: two compares, one branch.
  bool contains_aligned(std::uint64_t addr, std::uint32_t len) const {
    return (addr < size) & ((addr & (frame_size - 1)) + len <= frame_size);
  }
};

}  // namespace netring::xdp
