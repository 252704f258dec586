// The flow parser against every header combination it supports and every
// malformed case it must count (and survive): frames come from the shared
// PacketBuilder; malformed ones are well-formed frames with bytes edited.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <functional>
#include <optional>
#include <random>
#include <set>

#include "pkg/flow/parser.hpp"
#include "tests/testing/packet_builder.hpp"

namespace {

using netring::flow::Address;
using netring::flow::FrameView;
using netring::flow::ParsedPacket;
using netring::flow::Parser;
using netring::flow::ParserConfig;
using netring::flow::ParseStatus;
using netring::flow::Tunnel;
using netring::testing::PacketBuilder;
using Bytes = std::vector<std::uint8_t>;

constexpr std::size_t kEth = 14;

FrameView view(const Bytes& b) {
  return {reinterpret_cast<const std::byte*>(b.data()), static_cast<std::uint32_t>(b.size())};
}

void put16(Bytes& b, std::size_t off, std::uint16_t v) {
  b[off] = static_cast<std::uint8_t>(v >> 8);
  b[off + 1] = static_cast<std::uint8_t>(v);
}
std::uint16_t get16(const Bytes& b, std::size_t off) {
  return static_cast<std::uint16_t>(b[off] << 8 | b[off + 1]);
}

Address v4(const char* s) {
  std::uint8_t b[4];
  inet_pton(AF_INET, s, b);
  return netring::flow::ipv4_address(b);
}
Address v6(const char* s) {
  Address a{};
  inet_pton(AF_INET6, s, a.data());
  return a;
}

// IPv4 options after the 20-byte header at `ip`: IHL and total length follow.
Bytes with_ipv4_options(Bytes b, std::size_t ip, const Bytes& opts) {
  b.insert(b.begin() + static_cast<long>(ip + 20), opts.begin(), opts.end());
  b[ip] = static_cast<std::uint8_t>(0x40 | (20 + opts.size()) / 4);
  put16(b, ip + 2, static_cast<std::uint16_t>(get16(b, ip + 2) + opts.size()));
  return b;
}

// An IPv6 extension header right after the fixed header at `ip`; `ext[0]`
// (its next header) is filled in from the chain.
Bytes with_ipv6_ext(Bytes b, std::size_t ip, std::uint8_t type, Bytes ext) {
  ext[0] = b[ip + 6];
  b[ip + 6] = type;
  put16(b, ip + 4, static_cast<std::uint16_t>(get16(b, ip + 4) + ext.size()));
  b.insert(b.begin() + static_cast<long>(ip + 40), ext.begin(), ext.end());
  return b;
}
Bytes ext_generic(std::uint8_t units) {  // hdr ext len = units
  Bytes e((units + 1) * 8u, 0);
  e[1] = units;
  return e;
}
Bytes ext_fragment(std::uint16_t offset8, bool more, std::uint32_t id) {
  Bytes f(8, 0);
  put16(f, 2, static_cast<std::uint16_t>(offset8 << 3 | (more ? 1 : 0)));
  f[4] = static_cast<std::uint8_t>(id >> 24);
  f[5] = static_cast<std::uint8_t>(id >> 16);
  f[6] = static_cast<std::uint8_t>(id >> 8);
  f[7] = static_cast<std::uint8_t>(id);
  return f;
}
Bytes ext_ah(std::uint8_t len_field) {
  Bytes a((len_field + 2) * 4u, 0);
  a[1] = len_field;
  return a;
}

Bytes set_frag4(Bytes b, std::size_t ip, std::uint16_t offset8, bool more, std::uint16_t id) {
  put16(b, ip + 4, id);
  put16(b, ip + 6, static_cast<std::uint16_t>((more ? 0x2000 : 0) | offset8));
  return b;
}

Bytes vxlan_hdr(std::uint32_t vni, std::uint8_t flags = 0x08) {
  return {flags,
          0,
          0,
          0,
          static_cast<std::uint8_t>(vni >> 16),
          static_cast<std::uint8_t>(vni >> 8),
          static_cast<std::uint8_t>(vni),
          0};
}
Bytes geneve_hdr(std::uint32_t vni, std::uint16_t proto = 0x6558, std::uint8_t opt_words = 0, std::uint8_t ver = 0) {
  Bytes g = {static_cast<std::uint8_t>(ver << 6 | opt_words),
             0,
             static_cast<std::uint8_t>(proto >> 8),
             static_cast<std::uint8_t>(proto),
             static_cast<std::uint8_t>(vni >> 16),
             static_cast<std::uint8_t>(vni >> 8),
             static_cast<std::uint8_t>(vni),
             0};
  g.insert(g.end(), opt_words * 4u, 0x5a);
  return g;
}
Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
Bytes truncated(Bytes b, std::size_t n) {
  b.resize(n);
  return b;
}

const Bytes kInnerTcp =
    PacketBuilder().eth().ipv4("10.244.1.5", "10.244.2.7").tcp(40000, 8080, 0x18).payload(10).build();
const Bytes kInnerUdp6 = PacketBuilder().eth().ipv6("fd00:10::5", "fd00:20::7").udp(5353, 53).payload(4).build();

Bytes vxlan(const Bytes& inner, std::uint16_t port = 4789, std::uint32_t vni = 42) {
  return PacketBuilder()
      .eth()
      .ipv4("192.168.0.1", "192.168.0.2")
      .udp(51000, port)
      .payload(cat(vxlan_hdr(vni), inner))
      .build();
}
Bytes geneve(const Bytes& g_hdr, const Bytes& inner) {
  return PacketBuilder().eth().ipv6("2001:db8::1", "2001:db8::2").udp(51000, 6081).payload(cat(g_hdr, inner)).build();
}

struct Want {
  std::uint8_t protocol = 0;
  Address src{}, dst{};
  std::uint16_t src_port = 0, dst_port = 0;
  std::uint8_t family = 0;
  Tunnel tunnel = Tunnel::kNone;
  std::uint32_t vni = 0;
  std::uint8_t tcp_flags = 0;
  std::uint32_t ip_len = 0;
  bool fragment = false;
};

struct Case {
  const char* name;
  Bytes frame;
  ParseStatus status;
  std::optional<Want> want = std::nullopt;
};
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

std::vector<Case> ok_cases() {
  const Address a4 = v4("10.0.0.1"), b4 = v4("10.0.0.2"), a6 = v6("fd00::1"), b6 = v6("fd00::2");
  const Bytes tcp6 = PacketBuilder().eth().ipv6("fd00::1", "fd00::2").tcp(1000, 443, 0x02).payload(7).build();
  const Bytes udp6 = PacketBuilder().eth().ipv6("fd00::1", "fd00::2").udp(1000, 53).payload(5).build();
  Bytes sctp4 = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(3868, 3869).payload(8).build();
  sctp4[kEth + 9] = 132;  // same bytes, read as an SCTP common header (ports, vtag, checksum)
  return {
      {"ipv4_tcp", PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").tcp(1234, 80, 0x12).payload(3).build(),
       ParseStatus::kOk, Want{6, a4, b4, 1234, 80, 4, Tunnel::kNone, 0, 0x12, 43}},
      {"ipv4_udp", PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(5000, 53).build(), ParseStatus::kOk,
       Want{17, a4, b4, 5000, 53, 4, Tunnel::kNone, 0, 0, 28}},
      {"ipv4_icmp_echo", PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").icmp(8, 0).payload(56).build(),
       ParseStatus::kOk, Want{1, a4, b4, 0, 8 << 8, 4, Tunnel::kNone, 0, 0, 84}},
      {"ipv4_icmp_unreachable", PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").icmp(3, 4).build(), ParseStatus::kOk,
       Want{1, a4, b4, 0, 3 << 8 | 4, 4, Tunnel::kNone, 0, 0, 28}},
      {"ipv4_sctp", sctp4, ParseStatus::kOk, Want{132, a4, b4, 3868, 3869, 4, Tunnel::kNone, 0, 0, 36}},
      {"ipv4_options_tcp",
       with_ipv4_options(PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").tcp(1, 2, 0x01).build(), kEth,
                         {0x94, 0x04, 0, 0, 0x01, 0x01, 0x01, 0x00}),  // router alert, NOPs, EOL
       ParseStatus::kOk, Want{6, a4, b4, 1, 2, 4, Tunnel::kNone, 0, 0x01, 48}},
      {"ipv4_max_ihl",
       with_ipv4_options(PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(7, 9).build(), kEth, Bytes(40, 0x01)),
       ParseStatus::kOk, Want{17, a4, b4, 7, 9, 4, Tunnel::kNone, 0, 0, 68}},
      {"ipv4_unknown_protocol_gre",
       [] {
         Bytes b = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").payload(4).build();
         b[kEth + 9] = 47;
         return b;
       }(),
       ParseStatus::kOk, Want{47, a4, b4, 0, 0, 4, Tunnel::kNone, 0, 0, 24}},
      {"ipv4_ethernet_padding", cat(PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).build(), Bytes(18, 0)),
       ParseStatus::kOk, Want{17, a4, b4, 1, 2, 4, Tunnel::kNone, 0, 0, 28}},
      {"vlan_ipv4_tcp", PacketBuilder().eth().vlan(100).ipv4("10.0.0.1", "10.0.0.2").tcp(1, 2).build(),
       ParseStatus::kOk, Want{6, a4, b4, 1, 2, 4, Tunnel::kNone, 0, 0x10, 40}},
      {"qinq_88a8_ipv6_udp",
       PacketBuilder().eth().vlan(100, 0x88a8).vlan(200).ipv6("fd00::1", "fd00::2").udp(1, 2).build(), ParseStatus::kOk,
       Want{17, a6, b6, 1, 2, 6, Tunnel::kNone, 0, 0, 48}},
      {"qinq_9100_ipv4_udp",
       PacketBuilder().eth().vlan(7, 0x9100).vlan(8).ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).build(), ParseStatus::kOk,
       Want{17, a4, b4, 1, 2, 4, Tunnel::kNone, 0, 0, 28}},
      {"ipv6_tcp", tcp6, ParseStatus::kOk, Want{6, a6, b6, 1000, 443, 6, Tunnel::kNone, 0, 0x02, 67}},
      {"ipv6_udp", udp6, ParseStatus::kOk, Want{17, a6, b6, 1000, 53, 6, Tunnel::kNone, 0, 0, 53}},
      {"ipv6_icmpv6", PacketBuilder().eth().ipv6("fd00::1", "fd00::2").icmp(128, 0).build(), ParseStatus::kOk,
       Want{58, a6, b6, 0, 128 << 8, 6, Tunnel::kNone, 0, 0, 48}},
      {"ipv6_hop_by_hop_tcp", with_ipv6_ext(tcp6, kEth, 0, ext_generic(0)), ParseStatus::kOk,
       Want{6, a6, b6, 1000, 443, 6, Tunnel::kNone, 0, 0x02, 75}},
      {"ipv6_routing_udp", with_ipv6_ext(udp6, kEth, 43, ext_generic(2)), ParseStatus::kOk,
       Want{17, a6, b6, 1000, 53, 6, Tunnel::kNone, 0, 0, 77}},
      {"ipv6_dstopts_udp", with_ipv6_ext(udp6, kEth, 60, ext_generic(1)), ParseStatus::kOk,
       Want{17, a6, b6, 1000, 53, 6, Tunnel::kNone, 0, 0, 69}},
      {"ipv6_ah_tcp", with_ipv6_ext(tcp6, kEth, 51, ext_ah(4)), ParseStatus::kOk,
       Want{6, a6, b6, 1000, 443, 6, Tunnel::kNone, 0, 0x02, 91}},
      {"ipv6_full_chain",
       with_ipv6_ext(with_ipv6_ext(with_ipv6_ext(with_ipv6_ext(udp6, kEth, 60, ext_generic(0)), kEth, 51, ext_ah(2)),
                                   kEth, 43, ext_generic(0)),
                     kEth, 0, ext_generic(0)),
       ParseStatus::kOk, Want{17, a6, b6, 1000, 53, 6, Tunnel::kNone, 0, 0, 53 + 8 + 16 + 8 + 8}},
      {"ipv6_atomic_fragment", with_ipv6_ext(udp6, kEth, 44, ext_fragment(0, false, 9)), ParseStatus::kOk,
       Want{17, a6, b6, 1000, 53, 6, Tunnel::kNone, 0, 0, 61}},
      {"ipv6_no_next_header", PacketBuilder().eth().ipv6("fd00::1", "fd00::2").payload(3).build(), ParseStatus::kOk,
       Want{59, a6, b6, 0, 0, 6, Tunnel::kNone, 0, 0, 43}},
      {"vxlan_4789_inner_ipv4_tcp", vxlan(kInnerTcp), ParseStatus::kOk,
       Want{6, v4("10.244.1.5"), v4("10.244.2.7"), 40000, 8080, 4, Tunnel::kVxlan, 42, 0x18, 50}},
      {"vxlan_8472_inner_ipv6_udp", vxlan(kInnerUdp6, 8472, 0xabcdef), ParseStatus::kOk,
       Want{17, v6("fd00:10::5"), v6("fd00:20::7"), 5353, 53, 6, Tunnel::kVxlan, 0xabcdef, 0, 52}},
      {"vxlan_inner_vlan", vxlan(PacketBuilder().eth().vlan(5).ipv4("10.244.1.5", "10.244.2.7").udp(1, 2).build()),
       ParseStatus::kOk, Want{17, v4("10.244.1.5"), v4("10.244.2.7"), 1, 2, 4, Tunnel::kVxlan, 42, 0, 28}},
      {"vxlan_over_qinq_ipv6_outer",
       PacketBuilder()
           .eth()
           .vlan(1, 0x88a8)
           .vlan(2)
           .ipv6("2001:db8::1", "2001:db8::2")
           .udp(1, 4789)
           .payload(cat(vxlan_hdr(7), kInnerTcp))
           .build(),
       ParseStatus::kOk, Want{6, v4("10.244.1.5"), v4("10.244.2.7"), 40000, 8080, 4, Tunnel::kVxlan, 7, 0x18, 50}},
      {"geneve_no_options", geneve(geneve_hdr(1000), kInnerTcp), ParseStatus::kOk,
       Want{6, v4("10.244.1.5"), v4("10.244.2.7"), 40000, 8080, 4, Tunnel::kGeneve, 1000, 0x18, 50}},
      {"geneve_with_options", geneve(geneve_hdr(0x123456, 0x6558, 6), kInnerUdp6), ParseStatus::kOk,
       Want{17, v6("fd00:10::5"), v6("fd00:20::7"), 5353, 53, 6, Tunnel::kGeneve, 0x123456, 0, 52}},
      {"geneve_inner_ip_no_ethernet",
       geneve(geneve_hdr(9, 0x0800, 2), Bytes(kInnerTcp.begin() + kEth, kInnerTcp.end())), ParseStatus::kOk,
       Want{6, v4("10.244.1.5"), v4("10.244.2.7"), 40000, 8080, 4, Tunnel::kGeneve, 9, 0x18, 50}},
      {"vxlan_in_vxlan_stops_at_one_level", vxlan(vxlan(kInnerTcp, 4789, 5), 4789, 6), ParseStatus::kOk,
       Want{17, v4("192.168.0.1"), v4("192.168.0.2"), 51000, 4789, 4, Tunnel::kVxlan, 6, 0, 28 + 8 + 64}},
      {"udp_to_other_port_is_not_decapsulated",
       PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(1, 4790).payload(cat(vxlan_hdr(1), kInnerTcp)).build(),
       ParseStatus::kOk, Want{17, a4, b4, 1, 4790, 4, Tunnel::kNone, 0, 0, 28 + 8 + 64}},
      {"arp",
       [] {
         Bytes b = PacketBuilder().eth().payload(28).build();
         put16(b, 12, 0x0806);
         return b;
       }(),
       ParseStatus::kNotIp},
  };
}

std::vector<Case> malformed_cases() {
  const Bytes tcp4 = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").tcp(1, 2).build();
  const Bytes udp4 = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).payload(4).build();
  const Bytes icmp4 = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").icmp(8, 0).build();
  const Bytes udp6 = PacketBuilder().eth().ipv6("fd00::1", "fd00::2").udp(1000, 53).payload(5).build();
  const Bytes qinq = PacketBuilder().eth().vlan(1, 0x88a8).vlan(2).ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).build();
  Bytes sctp4 = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").payload(11).build();
  sctp4[kEth + 9] = 132;
  auto edit = [](Bytes b, const std::function<void(Bytes&)>& f) {
    f(b);
    return b;
  };
  const Bytes vx = vxlan(kInnerTcp);
  const std::size_t vx_inner = kEth + 20 + 8 + 8;
  return {
      {"empty", {}, ParseStatus::kTruncatedEthernet},
      {"truncated_ethernet", truncated(tcp4, 13), ParseStatus::kTruncatedEthernet},
      {"truncated_vlan", truncated(qinq, kEth + 3), ParseStatus::kTruncatedVlan},
      {"truncated_second_vlan", truncated(qinq, kEth + 7), ParseStatus::kTruncatedVlan},
      {"three_vlan_tags", PacketBuilder().eth().vlan(1, 0x88a8).vlan(2).vlan(3).ipv4("1.1.1.1", "2.2.2.2").build(),
       ParseStatus::kTooManyVlanTags},
      {"truncated_ipv4", truncated(tcp4, kEth + 19), ParseStatus::kTruncatedIpv4},
      {"truncated_ipv4_options", truncated(with_ipv4_options(tcp4, kEth, Bytes(12, 1)), kEth + 24),
       ParseStatus::kTruncatedIpv4},
      {"bad_ipv4_version", edit(tcp4, [](Bytes& b) { b[kEth] = 0x55; }), ParseStatus::kBadIpv4Version},
      {"bad_ipv4_ihl", edit(tcp4, [](Bytes& b) { b[kEth] = 0x44; }), ParseStatus::kBadIpv4Ihl},
      {"bad_ipv4_total_length", edit(tcp4, [](Bytes& b) { put16(b, kEth + 2, 19); }), ParseStatus::kBadIpv4TotalLength},
      {"ipv4_total_length_shorter_than_tcp", edit(tcp4, [](Bytes& b) { put16(b, kEth + 2, 30); }),
       ParseStatus::kTruncatedTcp},
      {"truncated_ipv6", truncated(udp6, kEth + 39), ParseStatus::kTruncatedIpv6},
      {"bad_ipv6_version", edit(udp6, [](Bytes& b) { b[kEth] = 0x40; }), ParseStatus::kBadIpv6Version},
      {"truncated_ipv6_ext", truncated(with_ipv6_ext(udp6, kEth, 0, ext_generic(3)), kEth + 40 + 20),
       ParseStatus::kTruncatedIpv6Ext},
      {"truncated_ipv6_ext_length_byte", truncated(with_ipv6_ext(udp6, kEth, 60, ext_generic(0)), kEth + 41),
       ParseStatus::kTruncatedIpv6Ext},
      {"bad_ipv6_ext_len_past_payload",
       edit(with_ipv6_ext(udp6, kEth, 43, ext_generic(0)), [](Bytes& b) { b[kEth + 41] = 200; }),
       ParseStatus::kBadIpv6ExtLen},
      {"bad_ipv6_ah_len_not_multiple_of_8", with_ipv6_ext(udp6, kEth, 51, ext_ah(3)), ParseStatus::kBadIpv6ExtLen},
      {"truncated_ipv6_fragment_header", truncated(with_ipv6_ext(udp6, kEth, 44, ext_fragment(0, true, 1)), kEth + 45),
       ParseStatus::kTruncatedIpv6Ext},
      {"too_many_ipv6_ext",
       [&] {
         Bytes b = udp6;
         for (int i = 0; i < 9; ++i) b = with_ipv6_ext(b, kEth, 60, ext_generic(0));
         return b;
       }(),
       ParseStatus::kTooManyIpv6Ext},
      {"truncated_tcp", truncated(tcp4, kEth + 20 + 13), ParseStatus::kTruncatedTcp},
      {"bad_tcp_data_offset", edit(tcp4, [](Bytes& b) { b[kEth + 20 + 12] = 0x40; }), ParseStatus::kBadTcpDataOffset},
      {"truncated_udp", truncated(udp4, kEth + 20 + 7), ParseStatus::kTruncatedUdp},
      {"bad_udp_length", edit(udp4, [](Bytes& b) { put16(b, kEth + 20 + 4, 7); }), ParseStatus::kBadUdpLength},
      {"truncated_icmp", truncated(icmp4, kEth + 20 + 3), ParseStatus::kTruncatedIcmp},
      {"truncated_sctp", sctp4, ParseStatus::kTruncatedSctp},
      {"truncated_vxlan", truncated(vx, kEth + 20 + 8 + 7), ParseStatus::kTruncatedVxlan},
      {"vxlan_udp_length_too_short_for_header", edit(vx, [](Bytes& b) { put16(b, kEth + 20 + 4, 12); }),
       ParseStatus::kTruncatedVxlan},
      {"bad_vxlan_flags", edit(vx, [](Bytes& b) { b[kEth + 20 + 8] = 0; }), ParseStatus::kBadVxlanFlags},
      {"vxlan_short_inner_frame", truncated(vx, vx_inner + 10), ParseStatus::kTruncatedInnerFrame},
      {"vxlan_empty_inner_frame", truncated(vx, vx_inner), ParseStatus::kTruncatedInnerFrame},
      {"vxlan_inner_frame_cut_by_udp_length", edit(vx, [&](Bytes& b) { put16(b, kEth + 20 + 4, 8 + 8 + 13); }),
       ParseStatus::kTruncatedInnerFrame},
      {"vxlan_truncated_inner_ipv4", truncated(vx, vx_inner + kEth + 10), ParseStatus::kTruncatedIpv4},
      {"vxlan_truncated_inner_tcp", truncated(vx, vx_inner + kEth + 20 + 4), ParseStatus::kTruncatedTcp},
      {"vxlan_inner_bad_ihl", edit(vx, [&](Bytes& b) { b[vx_inner + kEth] = 0x42; }), ParseStatus::kBadIpv4Ihl},
      {"truncated_geneve", truncated(geneve(geneve_hdr(1), kInnerTcp), kEth + 40 + 8 + 5),
       ParseStatus::kTruncatedGeneve},
      {"truncated_geneve_options", truncated(geneve(geneve_hdr(1, 0x6558, 4), kInnerTcp), kEth + 40 + 8 + 8 + 9),
       ParseStatus::kTruncatedGeneve},
      {"bad_geneve_version", geneve(geneve_hdr(1, 0x6558, 0, 1), kInnerTcp), ParseStatus::kBadGeneveVersion},
      {"bad_geneve_opt_len", edit(geneve(geneve_hdr(1, 0x6558, 2), kInnerTcp), [](Bytes& b) { b[kEth + 40 + 8] = 63; }),
       ParseStatus::kBadGeneveOptLen},
      {"unsupported_geneve_protocol", geneve(geneve_hdr(1, 0x894f), kInnerTcp),
       ParseStatus::kUnsupportedGeneveProtocol},
      {"geneve_short_inner_frame", geneve(geneve_hdr(1, 0x6558, 1), Bytes(9, 0)), ParseStatus::kTruncatedInnerFrame},
      {"geneve_empty_inner_ip", geneve(geneve_hdr(1, 0x86dd, 1), Bytes{}), ParseStatus::kTruncatedInnerFrame},
  };
}

void check(const Case& c) {
  SCOPED_TRACE(c.name);
  Parser parser;
  ParsedPacket out;
  // The parser gets exactly the bytes of the case in a buffer of their size:
  // ASan (NETRING_SANITIZE=ON) then catches any read past the captured length.
  std::unique_ptr<std::uint8_t[]> exact(new std::uint8_t[c.frame.size() + 1]);
  std::copy(c.frame.begin(), c.frame.end(), exact.get());
  const FrameView fv{reinterpret_cast<const std::byte*>(exact.get()), static_cast<std::uint32_t>(c.frame.size())};
  const ParseStatus got = parser.parse(fv, out);
  ASSERT_EQ(got, c.status) << to_string(got) << " instead of " << to_string(c.status);
  EXPECT_EQ(parser.counters()[c.status], 1u);
  if (!c.want) return;
  const Want& w = *c.want;
  EXPECT_EQ(out.key.protocol, w.protocol);
  EXPECT_EQ(netring::flow::to_string(out.key.src), netring::flow::to_string(w.src));
  EXPECT_EQ(netring::flow::to_string(out.key.dst), netring::flow::to_string(w.dst));
  EXPECT_EQ(out.key.src_port, w.src_port);
  EXPECT_EQ(out.key.dst_port, w.dst_port);
  EXPECT_EQ(out.key.family, w.family);
  EXPECT_EQ(out.key.tunnel, w.tunnel);
  EXPECT_EQ(out.key.vni, w.vni);
  EXPECT_EQ(out.tcp_flags, w.tcp_flags);
  EXPECT_EQ(out.ip_len, w.ip_len);
  EXPECT_EQ(out.fragment, w.fragment);
}

class FlowParserOk : public ::testing::TestWithParam<Case> {};
TEST_P(FlowParserOk, ParsesKey) {
  check(GetParam());
}
INSTANTIATE_TEST_SUITE_P(Headers, FlowParserOk, ::testing::ValuesIn(ok_cases()),
                         [](const auto& info) { return std::string(info.param.name); });

class FlowParserMalformed : public ::testing::TestWithParam<Case> {};
TEST_P(FlowParserMalformed, CountsReason) {
  check(GetParam());
}
INSTANTIATE_TEST_SUITE_P(Malformed, FlowParserMalformed, ::testing::ValuesIn(malformed_cases()),
                         [](const auto& info) { return std::string(info.param.name); });

// Every reason has a distinct snake_case name: they are metric label values.
TEST(FlowParser, StatusNamesAreDistinctSnakeCase) {
  std::set<std::string> names;
  for (std::size_t i = 0; i < static_cast<std::size_t>(ParseStatus::kCount); ++i) {
    const std::string n = to_string(static_cast<ParseStatus>(i));
    EXPECT_NE(n, "unknown");
    for (char ch : n) EXPECT_TRUE((ch >= 'a' && ch <= 'z') || ch == '_' || (ch >= '0' && ch <= '9')) << n;
    EXPECT_TRUE(names.insert(n).second) << n;
  }
  // Every malformed case's reason is exercised above; every reason is in a case.
  std::set<ParseStatus> seen;
  for (const Case& c : malformed_cases()) seen.insert(c.status);
  for (const Case& c : ok_cases()) seen.insert(c.status);
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(ParseStatus::kCount));
}

// Every prefix of every valid frame: whatever the cut, a status comes out
// and a truncation is never reported as ok past the headers the key needs.
TEST(FlowParser, EveryTruncationIsCountedNeverOverread) {
  for (const Case& c : ok_cases()) {
    Parser parser;
    ParsedPacket full, out;
    const ParseStatus full_status = Parser().parse(view(c.frame), full);
    std::uint64_t n = 0;
    for (std::size_t cut = 0; cut <= c.frame.size(); ++cut) {
      std::unique_ptr<std::uint8_t[]> exact(new std::uint8_t[cut + 1]);
      std::copy(c.frame.begin(), c.frame.begin() + static_cast<long>(cut), exact.get());
      const ParseStatus s =
          parser.parse({reinterpret_cast<const std::byte*>(exact.get()), static_cast<std::uint32_t>(cut)}, out);
      ++n;
      // A cut frame either fails or yields exactly the whole frame's flow:
      // never a flow built from half a header.
      if (s == ParseStatus::kOk) {
        EXPECT_EQ(full_status, ParseStatus::kOk) << c.name << " cut at " << cut;
        EXPECT_TRUE(out.key == full.key) << c.name << " cut at " << cut << ": " << to_string(out.key);
        EXPECT_EQ(out.tcp_flags, full.tcp_flags) << c.name << " cut at " << cut;
      }
    }
    std::uint64_t total = 0;
    for (auto v : parser.counters().by_status) total += v;
    EXPECT_EQ(total, n) << c.name;
    EXPECT_EQ(parser.counters()[ParseStatus::kTruncatedEthernet], std::min<std::uint64_t>(14, n)) << c.name;
  }
}

TEST(FlowParser, Ipv4FragmentsTakePortsFromTheFirstFragment) {
  Parser parser;
  ParsedPacket out;
  const Bytes whole = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(4000, 5000).payload(64).build();
  const Bytes first = set_frag4(whole, kEth, 0, true, 77);
  Bytes later = set_frag4(truncated(whole, kEth + 20 + 16), kEth, 3, false, 77);  // offset 24 bytes: no UDP header
  put16(later, kEth + 2, 36);

  ASSERT_EQ(parser.parse(view(later), out), ParseStatus::kOk);  // before its first fragment: unattributed
  EXPECT_TRUE(out.fragment_unattributed);
  EXPECT_EQ(out.key.src_port, 0);
  EXPECT_EQ(out.key.protocol, 17);

  ASSERT_EQ(parser.parse(view(first), out), ParseStatus::kOk);
  EXPECT_TRUE(out.fragment);
  EXPECT_EQ(out.key.dst_port, 5000);

  ASSERT_EQ(parser.parse(view(later), out), ParseStatus::kOk);
  EXPECT_TRUE(out.fragment);
  EXPECT_FALSE(out.fragment_unattributed);
  EXPECT_EQ(out.key.src_port, 4000);
  EXPECT_EQ(out.key.dst_port, 5000);
  EXPECT_EQ(out.ip_len, 36u);

  // Another id from the same hosts is not the same datagram.
  ASSERT_EQ(parser.parse(view(set_frag4(later, kEth, 3, false, 78)), out), ParseStatus::kOk);
  EXPECT_TRUE(out.fragment_unattributed);

  EXPECT_EQ(parser.counters().fragments, 4u);
  EXPECT_EQ(parser.counters().fragments_attributed, 1u);
  EXPECT_EQ(parser.counters().fragments_unattributed, 2u);
}

TEST(FlowParser, Ipv6FragmentsTakePortsFromTheFirstFragment) {
  Parser parser;
  ParsedPacket out;
  const Bytes udp6 = PacketBuilder().eth().ipv6("fd00::1", "fd00::2").udp(1000, 53).payload(40).build();
  const Bytes first = with_ipv6_ext(udp6, kEth, 44, ext_fragment(0, true, 0xdeadbeef));
  // A later fragment: the fragmentable part is opaque data.
  Bytes later = with_ipv6_ext(PacketBuilder().eth().ipv6("fd00::1", "fd00::2").payload(24).build(), kEth, 44,
                              ext_fragment(6, false, 0xdeadbeef));
  later[kEth + 40] = 17;  // its next header names the protocol of the fragmentable part

  ASSERT_EQ(parser.parse(view(first), out), ParseStatus::kOk);
  EXPECT_TRUE(out.fragment);
  EXPECT_EQ(out.key.src_port, 1000);
  ASSERT_EQ(parser.parse(view(later), out), ParseStatus::kOk);
  EXPECT_FALSE(out.fragment_unattributed);
  EXPECT_EQ(out.key.protocol, 17);
  EXPECT_EQ(out.key.src_port, 1000);
  EXPECT_EQ(out.key.dst_port, 53);
  later[kEth + 40 + 7] ^= 1;  // another id
  ASSERT_EQ(parser.parse(view(later), out), ParseStatus::kOk);
  EXPECT_TRUE(out.fragment_unattributed);
  EXPECT_EQ(out.key.dst_port, 0);
}

TEST(FlowParser, FragmentedVxlanStaysTheOuterFlow) {
  Parser parser;
  ParsedPacket out;
  const Bytes first = set_frag4(vxlan(kInnerTcp), kEth, 0, true, 5);
  ASSERT_EQ(parser.parse(view(first), out), ParseStatus::kOk);
  EXPECT_EQ(out.key.tunnel, Tunnel::kNone);
  EXPECT_EQ(out.key.dst_port, 4789);
  EXPECT_EQ(parser.counters().decapsulated, 0u);
}

TEST(FlowParser, TunnelPortsAreConfigurable) {
  ParserConfig cfg;
  cfg.vxlan_ports = {4790, 0, 0, 0};
  cfg.geneve_ports = {0, 0, 0, 0};
  Parser parser(cfg);
  ParsedPacket out;
  ASSERT_EQ(parser.parse(view(vxlan(kInnerTcp, 4790, 3)), out), ParseStatus::kOk);
  EXPECT_EQ(out.key.tunnel, Tunnel::kVxlan);
  EXPECT_EQ(out.key.vni, 3u);
  EXPECT_EQ(out.key.dst_port, 8080);
  ASSERT_EQ(parser.parse(view(vxlan(kInnerTcp, 4789, 3)), out), ParseStatus::kOk);
  EXPECT_EQ(out.key.tunnel, Tunnel::kNone) << "4789 is no longer a tunnel port";
  ASSERT_EQ(parser.parse(view(geneve(geneve_hdr(1), kInnerTcp)), out), ParseStatus::kOk);
  EXPECT_EQ(out.key.tunnel, Tunnel::kNone);
  EXPECT_EQ(out.key.dst_port, 6081);

  cfg.decapsulate = false;
  Parser off(cfg);
  ASSERT_EQ(off.parse(view(vxlan(kInnerTcp, 4790, 3)), out), ParseStatus::kOk);
  EXPECT_EQ(out.key.tunnel, Tunnel::kNone);
}

TEST(FlowParser, TsoTotalLengthZeroLeavesIpLenToTheWireLength) {
  Parser parser;
  ParsedPacket out;
  Bytes b = PacketBuilder().eth().vlan(3).ipv4("10.0.0.1", "10.0.0.2").tcp(1, 2).build();
  put16(b, kEth + 4 + 2, 0);
  ASSERT_EQ(parser.parse(view(b), out), ParseStatus::kOk);
  EXPECT_EQ(out.ip_len, 0u);
  EXPECT_EQ(out.l3_offset, kEth + 4);
  ASSERT_EQ(parser.parse(view(vxlan(kInnerTcp)), out), ParseStatus::kOk);
  EXPECT_EQ(out.l3_offset, kEth + 20 + 8 + 8 + kEth);
}

// The fast path (untagged IPv4/IPv6 with TCP or UDP) must settle every frame
// exactly as the general path does, and leave everything else to it: status,
// every output field and every counter, over each case, each of its cuts and
// many random edits of its header bytes (which hit every bail-out: version,
// IHL, fragment bits, lengths, data offset, ethertype, next header, ports).
void expect_same(const Parser& fast, const ParsedPacket& a, ParseStatus sa, const Parser& general,
                 const ParsedPacket& b, ParseStatus sb, const std::string& what) {
  ASSERT_EQ(sa, sb) << what << ": " << to_string(sa) << " vs " << to_string(sb);
  if (sa == ParseStatus::kOk) {
    EXPECT_TRUE(a.key == b.key) << what << ": " << to_string(a.key) << " vs " << to_string(b.key);
    EXPECT_EQ(a.ip_len, b.ip_len) << what;
    EXPECT_EQ(a.l3_offset, b.l3_offset) << what;
    EXPECT_EQ(a.tcp_flags, b.tcp_flags) << what;
    EXPECT_EQ(a.fragment, b.fragment) << what;
    EXPECT_EQ(a.fragment_unattributed, b.fragment_unattributed) << what;
  }
  EXPECT_EQ(fast.counters().by_status, general.counters().by_status) << what;
  EXPECT_EQ(fast.counters().decapsulated, general.counters().decapsulated) << what;
  EXPECT_EQ(fast.counters().fragments, general.counters().fragments) << what;
  EXPECT_EQ(fast.counters().fragments_attributed, general.counters().fragments_attributed) << what;
}

TEST(FlowParser, FastPathAgreesWithTheGeneralPath) {
  ParserConfig slow_cfg;
  slow_cfg.fast_path = false;
  Parser fast, general(slow_cfg);
  ParsedPacket a, b;
  auto both = [&](const std::uint8_t* data, std::size_t n, const std::string& what) {
    // Exactly n bytes on the heap: ASan builds catch a read past the capture.
    std::unique_ptr<std::uint8_t[]> exact(new std::uint8_t[n + 1]);
    std::copy(data, data + n, exact.get());
    const FrameView fv{reinterpret_cast<const std::byte*>(exact.get()), static_cast<std::uint32_t>(n)};
    const ParseStatus sa = fast.parse(fv, a);
    const ParseStatus sb = general.parse(fv, b);
    expect_same(fast, a, sa, general, b, sb, what);
  };
  std::vector<Case> cases = ok_cases();
  for (Case& c : malformed_cases()) cases.push_back(std::move(c));
  // Shapes only the fast path would otherwise see: untagged TSO (total 0),
  // DF set, a minimal TCP header at the end of the capture, UDP to port 0.
  Bytes tso = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").tcp(1, 2).payload(100).build();
  put16(tso, kEth + 2, 0);
  cases.push_back({"tso_untagged", tso, ParseStatus::kOk});
  Bytes df = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).build();
  df[kEth + 6] = 0x40;
  cases.push_back({"ipv4_df", df, ParseStatus::kOk});
  cases.push_back(
      {"udp_port_0", PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(0, 0).build(), ParseStatus::kOk});
  cases.push_back({"vxlan_ipv6_inner", vxlan(kInnerUdp6), ParseStatus::kOk});
  std::mt19937 rng(2024);
  std::size_t edits = 0;
  for (const Case& c : cases) {
    const Bytes& f = c.frame;
    for (std::size_t cut = 0; cut <= f.size(); ++cut)
      both(f.data(), cut, std::string(c.name) + " cut " + std::to_string(cut));
    // Edits within the headers (the first 100 bytes cover VXLAN-inner TCP).
    const std::size_t span = std::min<std::size_t>(f.size(), 100);
    for (int i = 0; i < 400 && span > 0; ++i, ++edits) {
      Bytes m = f;
      const int n = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < n; ++e) {
        const std::size_t at = rng() % span;
        // Half the edits pick values the parser branches on.
        static constexpr std::uint8_t kInteresting[] = {0x00, 0x01, 0x08, 0x20, 0x40, 0x45, 0x46, 0x4f, 0x50,
                                                        0x60, 0x81, 0x86, 0xdd, 0x06, 0x11, 0x12, 0x2c, 0xff};
        m[at] = rng() % 2 ? kInteresting[rng() % sizeof(kInteresting)] : static_cast<std::uint8_t>(rng());
      }
      both(m.data(), m.size(), std::string(c.name) + " edit " + std::to_string(i));
      if (::testing::Test::HasFailure()) return;  // one report, not thousands
    }
  }
  EXPECT_GT(edits, 10000u);
  EXPECT_GT(fast.counters()[ParseStatus::kOk], 1000u);
}

// Unused tunnel slots are 0: a datagram to port 0 is not a tunnel; a port in
// any slot (the last Geneve one too) is; a port in both lists is VXLAN.
TEST(FlowParser, TunnelPortSlotsOnBothPaths) {
  for (bool fast : {true, false}) {
    SCOPED_TRACE(fast ? "fast path" : "general path");
    ParserConfig cfg;
    cfg.fast_path = fast;
    cfg.vxlan_ports = {0, 0, 0, 7000};
    cfg.geneve_ports = {0, 0, 7000, 7001};
    Parser parser(cfg);
    ParsedPacket out;
    const Bytes to0 = PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(9, 0).payload(60).build();
    ASSERT_EQ(parser.parse(view(to0), out), ParseStatus::kOk);
    EXPECT_EQ(out.key.tunnel, Tunnel::kNone);
    EXPECT_EQ(out.key.dst_port, 0);
    ASSERT_EQ(parser.parse(view(vxlan(kInnerTcp, 7000, 9)), out), ParseStatus::kOk);
    EXPECT_EQ(out.key.tunnel, Tunnel::kVxlan);
    EXPECT_EQ(out.key.vni, 9u);
    const Bytes gen = PacketBuilder()
                          .eth()
                          .ipv4("192.168.0.1", "192.168.0.2")
                          .udp(51000, 7001)
                          .payload(cat(geneve_hdr(5), kInnerTcp))
                          .build();
    ASSERT_EQ(parser.parse(view(gen), out), ParseStatus::kOk);
    EXPECT_EQ(out.key.tunnel, Tunnel::kGeneve);
    EXPECT_EQ(out.key.vni, 5u);
    EXPECT_EQ(out.key.dst_port, 8080);
    EXPECT_EQ(parser.counters().decapsulated, 2u);
  }
}

TEST(FlowParser, NullDataIsEmpty) {
  Parser parser;
  ParsedPacket out;
  EXPECT_EQ(parser.parse({nullptr, 100}, out), ParseStatus::kTruncatedEthernet);
}

}  // namespace
