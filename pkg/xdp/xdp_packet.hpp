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

struct RxPacket {
  const std::byte* data;    // first (usually only) fragment
  std::uint32_t len;        // bytes at data
  std::uint32_t total_len;  // over all fragments; == len when nfrags == 1
  std::uint32_t nfrags;
  const RxFragment* frags;  // nfrags entries, frags[0] is {data, len}
  std::uint64_t addr;       // UMEM address of the first fragment
  std::span<const RxFragment> fragments() const { return {frags, nfrags}; }
};

}  // namespace netring::xdp
