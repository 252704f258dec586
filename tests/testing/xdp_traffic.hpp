// Sequence-numbered test frames for the AF_XDP traffic tests and the
// benchmark: the receiver rebuilds the frame a sequence number stands for
// and compares byte for byte.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "tests/testing/packet_builder.hpp"

namespace netring::testing {

// Ethernet/IPv4/UDP frame of `size` bytes (>= 50) whose payload starts with
// `seq` (little endian) followed by a pattern derived from it.
inline std::vector<std::uint8_t> seq_frame(std::uint64_t seq, std::size_t size, std::uint16_t dport = 2000) {
  constexpr std::size_t kHeaders = 14 + 20 + 8;
  std::vector<std::uint8_t> payload(size - kHeaders);
  std::memcpy(payload.data(), &seq, sizeof(seq));
  for (std::size_t i = sizeof(seq); i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(seq * 31 + i);
  return PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(1000, dport).payload(payload).build();
}

// The sequence number carried by a frame from seq_frame(), or ~0 if it is
// too short to be one.
inline std::uint64_t seq_of(const std::byte* data, std::size_t len) {
  constexpr std::size_t kHeaders = 14 + 20 + 8;
  if (len < kHeaders + 8) return ~0ull;
  std::uint64_t seq;
  std::memcpy(&seq, data + kHeaders, sizeof(seq));
  return seq;
}

// Whether a frame is one of seq_frame()'s (IPv4/UDP to dport): the veth's
// own traffic (IPv6 neighbour discovery, MLD) arrives too.
inline bool is_seq_frame(const std::byte* data, std::size_t len, std::uint16_t dport = 2000) {
  return len >= 14 + 20 + 8 + 8 && data[12] == std::byte{0x08} && data[13] == std::byte{0x00} &&
         data[23] == std::byte{17} &&
         (static_cast<unsigned>(std::to_integer<unsigned>(data[36]) << 8 | std::to_integer<unsigned>(data[37]))) ==
             dport;
}

// UDP destination port of an IPv4 frame without options.
inline std::uint16_t udp_dport_of(const std::byte* data) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(data[36]) << 8) | std::to_integer<unsigned>(data[37]));
}

}  // namespace netring::testing
