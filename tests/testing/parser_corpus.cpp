#include "tests/testing/parser_corpus.hpp"

#include <arpa/inet.h>

#include <functional>

#include "tests/testing/packet_builder.hpp"

namespace netring::testing::corpus {

using flow::Address;
using flow::FrameView;
using flow::ParseStatus;
using flow::Tunnel;

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

Bytes vxlan_hdr(std::uint32_t vni, std::uint8_t flags) {
  return {flags,
          0,
          0,
          0,
          static_cast<std::uint8_t>(vni >> 16),
          static_cast<std::uint8_t>(vni >> 8),
          static_cast<std::uint8_t>(vni),
          0};
}
Bytes geneve_hdr(std::uint32_t vni, std::uint16_t proto, std::uint8_t opt_words, std::uint8_t ver) {
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

const Bytes& inner_tcp() {
  static const Bytes b =
      PacketBuilder().eth().ipv4("10.244.1.5", "10.244.2.7").tcp(40000, 8080, 0x18).payload(10).build();
  return b;
}
const Bytes& inner_udp6() {
  static const Bytes b = PacketBuilder().eth().ipv6("fd00:10::5", "fd00:20::7").udp(5353, 53).payload(4).build();
  return b;
}

Bytes vxlan(const Bytes& inner, std::uint16_t port, std::uint32_t vni) {
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
      {"vxlan_4789_inner_ipv4_tcp", vxlan(inner_tcp()), ParseStatus::kOk,
       Want{6, v4("10.244.1.5"), v4("10.244.2.7"), 40000, 8080, 4, Tunnel::kVxlan, 42, 0x18, 50}},
      {"vxlan_8472_inner_ipv6_udp", vxlan(inner_udp6(), 8472, 0xabcdef), ParseStatus::kOk,
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
           .payload(cat(vxlan_hdr(7), inner_tcp()))
           .build(),
       ParseStatus::kOk, Want{6, v4("10.244.1.5"), v4("10.244.2.7"), 40000, 8080, 4, Tunnel::kVxlan, 7, 0x18, 50}},
      {"geneve_no_options", geneve(geneve_hdr(1000), inner_tcp()), ParseStatus::kOk,
       Want{6, v4("10.244.1.5"), v4("10.244.2.7"), 40000, 8080, 4, Tunnel::kGeneve, 1000, 0x18, 50}},
      {"geneve_with_options", geneve(geneve_hdr(0x123456, 0x6558, 6), inner_udp6()), ParseStatus::kOk,
       Want{17, v6("fd00:10::5"), v6("fd00:20::7"), 5353, 53, 6, Tunnel::kGeneve, 0x123456, 0, 52}},
      {"geneve_inner_ip_no_ethernet",
       geneve(geneve_hdr(9, 0x0800, 2), Bytes(inner_tcp().begin() + kEth, inner_tcp().end())), ParseStatus::kOk,
       Want{6, v4("10.244.1.5"), v4("10.244.2.7"), 40000, 8080, 4, Tunnel::kGeneve, 9, 0x18, 50}},
      {"vxlan_in_vxlan_stops_at_one_level", vxlan(vxlan(inner_tcp(), 4789, 5), 4789, 6), ParseStatus::kOk,
       Want{17, v4("192.168.0.1"), v4("192.168.0.2"), 51000, 4789, 4, Tunnel::kVxlan, 6, 0, 28 + 8 + 64}},
      {"udp_to_other_port_is_not_decapsulated",
       PacketBuilder().eth().ipv4("10.0.0.1", "10.0.0.2").udp(1, 4790).payload(cat(vxlan_hdr(1), inner_tcp())).build(),
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
  const Bytes vx = vxlan(inner_tcp());
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
      {"truncated_geneve", truncated(geneve(geneve_hdr(1), inner_tcp()), kEth + 40 + 8 + 5),
       ParseStatus::kTruncatedGeneve},
      {"truncated_geneve_options", truncated(geneve(geneve_hdr(1, 0x6558, 4), inner_tcp()), kEth + 40 + 8 + 8 + 9),
       ParseStatus::kTruncatedGeneve},
      {"bad_geneve_version", geneve(geneve_hdr(1, 0x6558, 0, 1), inner_tcp()), ParseStatus::kBadGeneveVersion},
      {"bad_geneve_opt_len",
       edit(geneve(geneve_hdr(1, 0x6558, 2), inner_tcp()), [](Bytes& b) { b[kEth + 40 + 8] = 63; }),
       ParseStatus::kBadGeneveOptLen},
      {"unsupported_geneve_protocol", geneve(geneve_hdr(1, 0x894f), inner_tcp()),
       ParseStatus::kUnsupportedGeneveProtocol},
      {"geneve_short_inner_frame", geneve(geneve_hdr(1, 0x6558, 1), Bytes(9, 0)), ParseStatus::kTruncatedInnerFrame},
      {"geneve_empty_inner_ip", geneve(geneve_hdr(1, 0x86dd, 1), Bytes{}), ParseStatus::kTruncatedInnerFrame},
  };
}

}  // namespace netring::testing::corpus
