#include "tests/testing/packet_builder.hpp"

#include <arpa/inet.h>

#include <stdexcept>

namespace netring::testing {
namespace {

void put16(std::vector<std::uint8_t>& b, std::size_t off, std::uint16_t v) {
  b[off] = static_cast<std::uint8_t>(v >> 8);
  b[off + 1] = static_cast<std::uint8_t>(v);
}

std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t acc = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) acc += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
  if (n & 1) acc += static_cast<std::uint32_t>(p[n - 1] << 8);
  return acc;
}

std::uint16_t fold(std::uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<std::uint16_t>(~acc);
}

}  // namespace

PacketBuilder& PacketBuilder::eth(Mac src, Mac dst) {
  std::vector<std::uint8_t> b(14);
  std::copy(dst.begin(), dst.end(), b.begin());
  std::copy(src.begin(), src.end(), b.begin() + 6);
  parts_.push_back({Layer::kEth, b});
  return *this;
}

PacketBuilder& PacketBuilder::vlan(std::uint16_t vid, std::uint16_t tpid) {
  std::vector<std::uint8_t> b(4);  // TCI, then the ethertype of what follows
  put16(b, 0, vid & 0x0fff);
  parts_.push_back({Layer::kVlan, b, tpid});
  return *this;
}

PacketBuilder& PacketBuilder::ipv4(const std::string& src, const std::string& dst, std::uint8_t ttl) {
  std::vector<std::uint8_t> b(20);
  b[0] = 0x45;
  b[8] = ttl;
  if (inet_pton(AF_INET, src.c_str(), &b[12]) != 1 || inet_pton(AF_INET, dst.c_str(), &b[16]) != 1)
    throw std::invalid_argument("bad IPv4 address");
  parts_.push_back({Layer::kIpv4, b});
  return *this;
}

PacketBuilder& PacketBuilder::ipv6(const std::string& src, const std::string& dst, std::uint8_t hop_limit) {
  std::vector<std::uint8_t> b(40);
  b[0] = 0x60;
  b[7] = hop_limit;
  if (inet_pton(AF_INET6, src.c_str(), &b[8]) != 1 || inet_pton(AF_INET6, dst.c_str(), &b[24]) != 1)
    throw std::invalid_argument("bad IPv6 address");
  parts_.push_back({Layer::kIpv6, b});
  return *this;
}

PacketBuilder& PacketBuilder::udp(std::uint16_t sport, std::uint16_t dport) {
  std::vector<std::uint8_t> b(8);
  put16(b, 0, sport);
  put16(b, 2, dport);
  parts_.push_back({Layer::kUdp, b});
  return *this;
}

PacketBuilder& PacketBuilder::tcp(std::uint16_t sport, std::uint16_t dport, std::uint8_t flags, std::uint32_t seq) {
  std::vector<std::uint8_t> b(20);
  put16(b, 0, sport);
  put16(b, 2, dport);
  b[4] = static_cast<std::uint8_t>(seq >> 24);
  b[5] = static_cast<std::uint8_t>(seq >> 16);
  b[6] = static_cast<std::uint8_t>(seq >> 8);
  b[7] = static_cast<std::uint8_t>(seq);
  b[12] = 5 << 4;
  b[13] = flags;
  put16(b, 14, 65535);
  parts_.push_back({Layer::kTcp, b});
  return *this;
}

PacketBuilder& PacketBuilder::icmp(std::uint8_t type, std::uint8_t code) {
  std::vector<std::uint8_t> b(8);
  b[0] = type;
  b[1] = code;
  parts_.push_back({Layer::kIcmp, b});
  return *this;
}

PacketBuilder& PacketBuilder::payload(std::size_t n, std::uint8_t fill) {
  parts_.push_back({Layer::kPayload, std::vector<std::uint8_t>(n, fill)});
  return *this;
}

PacketBuilder& PacketBuilder::payload(const std::vector<std::uint8_t>& bytes) {
  parts_.push_back({Layer::kPayload, bytes});
  return *this;
}

std::vector<std::uint8_t> PacketBuilder::build() const {
  std::vector<std::uint8_t> wire;
  std::vector<std::size_t> offs;
  for (const Part& p : parts_) {
    offs.push_back(wire.size());
    wire.insert(wire.end(), p.bytes.begin(), p.bytes.end());
  }
  auto next_layer = [&](std::size_t i) { return i + 1 < parts_.size() ? parts_[i + 1].layer : Layer::kPayload; };

  // Link layer: each header names what follows it.
  for (std::size_t i = 0; i < parts_.size(); ++i) {
    const Layer lay = parts_[i].layer;
    if (lay != Layer::kEth && lay != Layer::kVlan) continue;
    std::uint16_t type = 0x88b5;  // local experimental ethertype: raw payload
    switch (next_layer(i)) {
      case Layer::kVlan: type = parts_[i + 1].tpid; break;
      case Layer::kIpv4: type = 0x0800; break;
      case Layer::kIpv6: type = 0x86dd; break;
      default: break;
    }
    put16(wire, offs[i] + (lay == Layer::kEth ? 12 : 2), type);
  }

  // L3 from the inside out, so an outer header's length covers an inner one.
  for (std::size_t i = parts_.size(); i-- > 0;) {
    const Layer lay = parts_[i].layer;
    if (lay != Layer::kIpv4 && lay != Layer::kIpv6) continue;
    const std::size_t off = offs[i];
    const std::size_t rest = wire.size() - off;
    std::uint8_t proto = 59;  // IPv6 "no next header"
    switch (next_layer(i)) {
      case Layer::kUdp: proto = 17; break;
      case Layer::kTcp: proto = 6; break;
      case Layer::kIcmp: proto = lay == Layer::kIpv6 ? 58 : 1; break;
      case Layer::kIpv4: proto = 4; break;
      case Layer::kIpv6: proto = 41; break;
      default: break;
    }
    if (lay == Layer::kIpv4) {
      put16(wire, off + 2, static_cast<std::uint16_t>(rest));
      wire[off + 9] = proto;
      put16(wire, off + 10, 0);
      put16(wire, off + 10, fold(sum16(&wire[off], 20)));
    } else {
      put16(wire, off + 4, static_cast<std::uint16_t>(rest - 40));
      wire[off + 6] = proto;
    }
  }

  // L4 lengths and checksums, over the pseudo-header of the enclosing L3.
  Layer l3 = Layer::kPayload;
  std::size_t l3_off = 0;
  for (std::size_t i = 0; i < parts_.size(); ++i) {
    const Layer lay = parts_[i].layer;
    const std::size_t off = offs[i];
    const std::size_t rest = wire.size() - off;
    if (lay == Layer::kIpv4 || lay == Layer::kIpv6) {
      l3 = lay;
      l3_off = off;
      continue;
    }
    if (lay != Layer::kUdp && lay != Layer::kTcp && lay != Layer::kIcmp) continue;
    if (lay == Layer::kUdp) put16(wire, off + 4, static_cast<std::uint16_t>(rest));
    const std::size_t csum = off + (lay == Layer::kUdp ? 6 : lay == Layer::kTcp ? 16 : 2);
    put16(wire, csum, 0);
    std::uint32_t acc = 0;
    const bool icmp4 = lay == Layer::kIcmp && l3 == Layer::kIpv4;
    if (!icmp4) {
      const std::uint8_t proto = lay == Layer::kUdp ? 17 : lay == Layer::kTcp ? 6 : 58;
      if (l3 == Layer::kIpv4) acc = sum16(&wire[l3_off + 12], 8);
      if (l3 == Layer::kIpv6) acc = sum16(&wire[l3_off + 8], 32);
      acc += proto + static_cast<std::uint32_t>(rest);
    }
    std::uint16_t c = fold(sum16(&wire[off], rest, acc));
    if (lay == Layer::kUdp && c == 0) c = 0xffff;
    put16(wire, csum, c);
  }
  return wire;
}

}  // namespace netring::testing
