// The AF_XDP kernel ABI: UAPI structs and constants, including what Debian
// 12's 6.1 headers lack (pkg/compat/uapi.h). The sizes are ABI: the kernel
// copies exactly these layouts, so each is pinned with a static_assert.
#pragma once

#include <linux/if_xdp.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

#include "pkg/compat/uapi.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif
// Busy-poll socket options (5.11); glibc 2.36 may lack the newer two.
#ifndef SO_BUSY_POLL
#define SO_BUSY_POLL 46
#endif
#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif

namespace netring::xdp::ffi {

// struct xdp_umem_reg as of 6.8: tx_metadata_len takes what was tail
// padding in 6.1's header, so the size stays 32 and older kernels, which
// copy 32 bytes and never look at the padding, accept it unchanged as long
// as it is zero.
struct UmemReg {
  std::uint64_t addr;
  std::uint64_t len;
  std::uint32_t chunk_size;
  std::uint32_t headroom;
  std::uint32_t flags;
  std::uint32_t tx_metadata_len;
};
static_assert(sizeof(UmemReg) == 32);
static_assert(sizeof(UmemReg) == sizeof(struct xdp_umem_reg));
static_assert(offsetof(UmemReg, flags) == offsetof(struct xdp_umem_reg, flags));

static_assert(sizeof(struct sockaddr_xdp) == 16);
static_assert(sizeof(struct xdp_desc) == 16);
static_assert(sizeof(struct xdp_ring_offset) == 32);
static_assert(sizeof(struct xdp_mmap_offsets) == 128);
static_assert(sizeof(struct xdp_statistics) == 48);
static_assert(sizeof(struct xdp_options) == 4);

// Pre-5.4 kernels (no need_wakeup) answer XDP_MMAP_OFFSETS with rings that
// have no flags word: 3 u64 per ring.
inline constexpr std::size_t kMmapOffsetsV1Size = 4 * 3 * sizeof(std::uint64_t);

// Kernel limits (include/net/xdp_sock_drv.h, xdp_umem.c).
inline constexpr std::uint32_t kMinChunkSize = 2048;   // XDP_UMEM_MIN_CHUNK_SIZE
inline constexpr std::uint32_t kPacketHeadroom = 256;  // XDP_PACKET_HEADROOM
inline constexpr std::uint32_t kMaxTxMetadataLen = 256;

inline constexpr std::uint64_t kUnalignedAddrMask = XSK_UNALIGNED_BUF_ADDR_MASK;
inline constexpr unsigned kUnalignedOffsetShift = XSK_UNALIGNED_BUF_OFFSET_SHIFT;

}  // namespace netring::xdp::ffi
