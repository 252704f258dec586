// An exact-count traffic generator for capture-port tests: UDP frames of a
// few flows, sent from another namespace through an AF_PACKET socket at a
// pace a veth peer's XDP ring absorbs, over a link that carries nothing
// else (IPv6 off, so no router solicitations or MLD reports).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/testing/netns.hpp"

namespace netring::testing {

// Flow i: 10.0.0.1:(1000 + i) -> 10.0.0.2:(2000 + i), UDP.
inline constexpr std::uint16_t kGenSportBase = 1000;
inline constexpr std::uint16_t kGenDportBase = 2000;

// `per_flow` frames of each of `flows` flows, interleaved, `size` bytes each
// (Ethernet header included).
std::vector<std::vector<std::uint8_t>> udp_flow_frames(int flows, int per_flow, std::size_t size);

// Turns IPv6 off for every link made in `ns` from now on.
void quiet_ipv6(const Netns& ns);

// Sends every frame out of `ifname` (in `ns`), 32 at a time with a pause of
// `gap_us` between batches, each batch from the next CPU (so from the next
// TX queue: a veth peer receives them on that RX queue); returns how many
// the kernel took.
std::size_t send_paced(const Netns& ns, const std::string& ifname, const std::vector<std::vector<std::uint8_t>>& frames,
                       int gap_us = 1000);

}  // namespace netring::testing
