// One mmap'ed AF_XDP ring (RX, TX, fill or completion), unmapped on
// destruction. The kernel tells where the indices, flags and entries sit
// inside the mapping (XDP_MMAP_OFFSETS); this turns that into a RingView.
#pragma once

#include <cstdint>

#include "pkg/common/error.hpp"
#include "pkg/common/mapping.hpp"
#include "pkg/xdp/ffi.hpp"
#include "pkg/xdp/ring.hpp"

namespace netring::xdp {

enum class RingKind : std::uint8_t { kRx, kTx, kFill, kCompletion };
const char* to_string(RingKind k);

// XDP_MMAP_OFFSETS, with the pre-5.4 layout (no flags word) normalised:
// has_flags says whether the kernel has one.
struct MmapOffsets {
  struct xdp_mmap_offsets off {};
  bool has_flags = false;
};
Result<MmapOffsets> query_mmap_offsets(int fd);

class RingMapping {
 public:
  RingMapping() = default;
  // Maps ring `kind` of socket `fd`, which was sized to `entries` with the
  // matching setsockopt.
  static Result<RingMapping> map(int fd, RingKind kind, const MmapOffsets& offsets, std::uint32_t entries);

  const RingView& view() const { return view_; }
  bool valid() const { return map_.valid(); }

 private:
  Mapping map_;
  RingView view_;
};

}  // namespace netring::xdp
