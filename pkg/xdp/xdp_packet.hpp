// What an AF_XDP RX batch hands out: views into UMEM frames.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace netring::xdp {

struct RxFragment {
  const std::byte* data;
  std::uint32_t len;
};

// The base RxFragment is the first (usually only) fragment, so a packet of
// one fragment needs nothing stored beyond it: p.data / p.len are the packet.
struct RxPacket : RxFragment {
  std::uint32_t total_len;  // over all fragments; == len when nfrags == 1
  std::uint32_t nfrags;
  const RxFragment* more;  // all nfrags fragments when nfrags > 1 (more[0] == this fragment)
  std::span<const RxFragment> fragments() const {
    if (nfrags == 1) return {static_cast<const RxFragment*>(this), 1};
    return {more, nfrags};
  }
};
static_assert(sizeof(RxPacket) == 32);

}  // namespace netring::xdp
