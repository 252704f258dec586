// Helpers shared by the AF_PACKET capture tests and benchmarks: numbered
// frames, draining one or several sockets, sockets opened in a namespace.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "pkg/packet/socket.hpp"
#include "tests/testing/netns.hpp"

namespace netring::testing {

std::uint64_t realtime_ns();

// An Ethernet/IPv4/UDP frame from 02:00:00:00:00:01 whose payload starts
// with `number`; `flow` picks the UDP source port (1000 + flow).
std::vector<std::uint8_t> numbered_frame(std::uint32_t number, std::size_t payload = 64, std::uint32_t flow = 0);
// The number and flow of a frame numbered_frame() made; false for others
// (the namespaces' own IPv6 neighbour discovery and MLD share the link).
bool parse_numbered(const std::byte* data, std::uint32_t len, std::uint32_t& number, std::uint32_t& flow);

struct Captured {
  std::vector<std::uint8_t> bytes;
  packet::RingPacket meta;
};

// Reads the sockets until `want` numbered frames arrived in total or the
// deadline passed; copies them out so they outlive release(). Result i
// holds what socket i captured. Other frames are skipped.
std::vector<std::vector<Captured>> drain(std::span<packet::PacketSocket* const> socks, std::size_t want,
                                         std::chrono::seconds deadline);
std::vector<Captured> drain(packet::PacketSocket& s, std::size_t want, std::chrono::seconds deadline);

// create() + start() inside `ns`; throws std::runtime_error with the message.
packet::PacketSocket open_packet_socket(const Netns& ns, packet::SocketOptions opts);

// Turns IPv6 off in `ns` (set before veths are made) so no neighbour
// discovery or MLD frames appear next to the test's own.
void disable_ipv6(const Netns& ns);

}  // namespace netring::testing
