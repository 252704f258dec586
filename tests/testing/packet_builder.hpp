// Crafts well-formed frames (Ethernet, VLAN, IPv4/IPv6, UDP/TCP/ICMP) with
// correct lengths and checksums, for BPF test runs, AF_XDP/AF_PACKET traffic
// tests and parser tests. Malformed variants are made by editing the bytes
// it returns.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace netring::testing {

using Mac = std::array<std::uint8_t, 6>;

class PacketBuilder {
 public:
  PacketBuilder& eth(Mac src = {0x02, 0, 0, 0, 0, 1}, Mac dst = {0x02, 0, 0, 0, 0, 2});
  PacketBuilder& vlan(std::uint16_t vid, std::uint16_t tpid = 0x8100);
  PacketBuilder& ipv4(const std::string& src, const std::string& dst, std::uint8_t ttl = 64);
  PacketBuilder& ipv6(const std::string& src, const std::string& dst, std::uint8_t hop_limit = 64);
  PacketBuilder& udp(std::uint16_t sport, std::uint16_t dport);
  PacketBuilder& tcp(std::uint16_t sport, std::uint16_t dport, std::uint8_t flags = 0x10 /* ACK */,
                     std::uint32_t seq = 1);
  PacketBuilder& icmp(std::uint8_t type, std::uint8_t code);  // ICMP for IPv4, ICMPv6 for IPv6
  PacketBuilder& payload(std::size_t n, std::uint8_t fill = 0xab);
  PacketBuilder& payload(const std::vector<std::uint8_t>& bytes);

  // Finalises lengths and checksums; the builder can be reused afterwards.
  std::vector<std::uint8_t> build() const;

 private:
  enum class Layer { kEth, kVlan, kIpv4, kIpv6, kUdp, kTcp, kIcmp, kPayload };
  struct Part {
    Layer layer;
    std::vector<std::uint8_t> bytes;
    std::uint16_t tpid = 0;  // VLAN tags: the TPID the header before carries
  };
  std::vector<Part> parts_;
};

}  // namespace netring::testing
