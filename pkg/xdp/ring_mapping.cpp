#include "pkg/xdp/ring_mapping.hpp"

#include <sys/mman.h>
#include <sys/socket.h>

#include <cstring>
#include <string>

namespace netring::xdp {

const char* to_string(RingKind k) {
  switch (k) {
    case RingKind::kRx: return "RX";
    case RingKind::kTx: return "TX";
    case RingKind::kFill: return "fill";
    case RingKind::kCompletion: return "completion";
  }
  return "?";
}

Result<MmapOffsets> query_mmap_offsets(int fd) {
  MmapOffsets m;
  socklen_t len = sizeof(m.off);
  if (::getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, &m.off, &len) != 0)
    return Error::from_errno("getsockopt(XDP_MMAP_OFFSETS)");
  if (len == sizeof(m.off)) {
    m.has_flags = true;
    return m;
  }
  if (len != ffi::kMmapOffsetsV1Size)
    return Error::invalid("getsockopt(XDP_MMAP_OFFSETS)", "unexpected length " + std::to_string(len));
  // Pre-5.4 kernels: 4 rings of {producer, consumer, desc}; spread them out
  // into the current layout, with no flags word.
  std::uint64_t v1[12];
  std::memcpy(v1, &m.off, sizeof(v1));
  struct xdp_ring_offset* rings[4] = {&m.off.rx, &m.off.tx, &m.off.fr, &m.off.cr};
  for (int i = 0; i < 4; ++i) *rings[i] = {v1[3 * i], v1[3 * i + 1], v1[3 * i + 2], 0};
  m.has_flags = false;
  return m;
}

Result<RingMapping> RingMapping::map(int fd, RingKind kind, const MmapOffsets& offsets, std::uint32_t entries) {
  const struct xdp_ring_offset* off = nullptr;
  off_t pgoff = 0;
  std::size_t entry_size = sizeof(std::uint64_t);
  switch (kind) {
    case RingKind::kRx: off = &offsets.off.rx, pgoff = XDP_PGOFF_RX_RING, entry_size = sizeof(struct xdp_desc); break;
    case RingKind::kTx: off = &offsets.off.tx, pgoff = XDP_PGOFF_TX_RING, entry_size = sizeof(struct xdp_desc); break;
    case RingKind::kFill: off = &offsets.off.fr, pgoff = static_cast<off_t>(XDP_UMEM_PGOFF_FILL_RING); break;
    case RingKind::kCompletion:
      off = &offsets.off.cr, pgoff = static_cast<off_t>(XDP_UMEM_PGOFF_COMPLETION_RING);
      break;
  }
  const std::size_t len = off->desc + entries * entry_size;
  // MAP_POPULATE: fault the ring in now rather than on the first packet.
  auto m = Mapping::map(len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, pgoff,
                        std::string(to_string(kind)) + " ring");
  if (!m) return std::move(m).take_error();
  RingMapping r;
  r.map_ = std::move(*m);
  std::byte* base = r.map_.bytes();
  r.view_.producer = reinterpret_cast<std::uint32_t*>(base + off->producer);
  r.view_.consumer = reinterpret_cast<std::uint32_t*>(base + off->consumer);
  r.view_.flags = offsets.has_flags ? reinterpret_cast<std::uint32_t*>(base + off->flags) : nullptr;
  r.view_.entries = base + off->desc;
  r.view_.size = entries;
  return r;
}

}  // namespace netring::xdp
