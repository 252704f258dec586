#include "pkg/flow/parser.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace netring::flow {
namespace {

template <class T>
inline T load(const std::uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline std::uint16_t from_be(std::uint16_t v) {
  if constexpr (std::endian::native == std::endian::little) return __builtin_bswap16(v);
  return v;
}
inline std::uint32_t from_be(std::uint32_t v) {
  if constexpr (std::endian::native == std::endian::little) return __builtin_bswap32(v);
  return v;
}
// A network-order constant, to compare with an unswapped load.
constexpr std::uint16_t be_const(std::uint16_t v) {
  if constexpr (std::endian::native == std::endian::little) return static_cast<std::uint16_t>(v << 8 | v >> 8);
  return v;
}
// Callers have checked off + 2 (or 4) <= captured length.
inline std::uint16_t be16(const std::uint8_t* p, std::size_t off) {
  return from_be(load<std::uint16_t>(p + off));
}
inline std::uint32_t be32(const std::uint8_t* p, std::size_t off) {
  return from_be(load<std::uint32_t>(p + off));
}
// `off <= len` holds on every call path, so this never wraps.
inline bool has(std::size_t len, std::size_t off, std::size_t n) {
  return off <= len && len - off >= n;
}

constexpr std::uint16_t kEthIpv4 = 0x0800;
constexpr std::uint16_t kEthIpv6 = 0x86dd;
constexpr std::uint16_t kEthTransparentBridging = 0x6558;  // Geneve: Ethernet inside
constexpr int kMaxVlanTags = 2;                            // QinQ
constexpr int kMaxIpv6ExtHeaders = 8;

constexpr std::uint8_t kIpProtoIcmp = 1, kIpProtoTcp = 6, kIpProtoUdp = 17, kIpProtoIcmpv6 = 58, kIpProtoSctp = 132;

}  // namespace

const char* to_string(ParseStatus s) {
  switch (s) {
    case ParseStatus::kOk: return "ok";
    case ParseStatus::kNotIp: return "not_ip";
    case ParseStatus::kTruncatedEthernet: return "truncated_ethernet";
    case ParseStatus::kTruncatedVlan: return "truncated_vlan";
    case ParseStatus::kTooManyVlanTags: return "too_many_vlan_tags";
    case ParseStatus::kTruncatedIpv4: return "truncated_ipv4";
    case ParseStatus::kBadIpv4Version: return "bad_ipv4_version";
    case ParseStatus::kBadIpv4Ihl: return "bad_ipv4_ihl";
    case ParseStatus::kBadIpv4TotalLength: return "bad_ipv4_total_length";
    case ParseStatus::kTruncatedIpv6: return "truncated_ipv6";
    case ParseStatus::kBadIpv6Version: return "bad_ipv6_version";
    case ParseStatus::kTruncatedIpv6Ext: return "truncated_ipv6_ext";
    case ParseStatus::kBadIpv6ExtLen: return "bad_ipv6_ext_len";
    case ParseStatus::kTooManyIpv6Ext: return "too_many_ipv6_ext";
    case ParseStatus::kTruncatedTcp: return "truncated_tcp";
    case ParseStatus::kBadTcpDataOffset: return "bad_tcp_data_offset";
    case ParseStatus::kTruncatedUdp: return "truncated_udp";
    case ParseStatus::kBadUdpLength: return "bad_udp_length";
    case ParseStatus::kTruncatedIcmp: return "truncated_icmp";
    case ParseStatus::kTruncatedSctp: return "truncated_sctp";
    case ParseStatus::kTruncatedVxlan: return "truncated_vxlan";
    case ParseStatus::kBadVxlanFlags: return "bad_vxlan_flags";
    case ParseStatus::kTruncatedGeneve: return "truncated_geneve";
    case ParseStatus::kBadGeneveVersion: return "bad_geneve_version";
    case ParseStatus::kBadGeneveOptLen: return "bad_geneve_opt_len";
    case ParseStatus::kUnsupportedGeneveProtocol: return "unsupported_geneve_protocol";
    case ParseStatus::kTruncatedInnerFrame: return "truncated_inner_frame";
    case ParseStatus::kCount: break;
  }
  return "unknown";
}

Parser::Parser(ParserConfig cfg) : cfg_(cfg) {
  for (std::size_t i = 0; i < 4; ++i) {
    tunnel_ports_[i] = cfg_.vxlan_ports[i];
    tunnel_ports_[4 + i] = cfg_.geneve_ports[i];
  }
  for (std::size_t i = 0; i < 8; ++i)
    if (tunnel_ports_[i] != 0) tunnel_lanes_ |= 3u << (2 * i);
}

ParseStatus Parser::parse(FrameView frame, ParsedPacket& out) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(frame.data);
  const std::size_t len = p ? frame.len : 0;
  ParseStatus s;
  if (!(cfg_.fast_path && parse_fast(p, len, out, s))) [[unlikely]] {
    out = ParsedPacket{};
    s = parse_ethernet(p, len, 0, out, 0);
  }
  ++counters_.by_status[static_cast<std::size_t>(s)];
  return s;
}

// The general path below, specialised to the shapes nearly all samples
// have: fixed offsets, one bounds check per header, no loops. Anything else
// (VLAN tags, IPv4 options or fragments, IPv6 extension headers, other L4
// protocols, any malformed or truncated field) returns false untouched in
// counters. VXLAN/Geneve goes to the same parse_tunnel() as the general
// path does, so decapsulation has one implementation.
inline bool Parser::parse_fast(const std::uint8_t* p, std::size_t len, ParsedPacket& out, ParseStatus& status) {
  constexpr std::size_t kEth = 14, kV4 = kEth + 20, kV6 = kEth + 40;
  if (len < kV4 + 8) [[unlikely]]
    return false;
  const std::uint16_t type = load<std::uint16_t>(p + 12);
  std::size_t l4, end;
  std::uint8_t proto;
  FlowKey& k = out.key;
  if (type == be_const(kEthIpv4)) [[likely]] {
    const std::uint16_t total = be16(p, kEth + 2);
    // Version 4, IHL 5; flags MF and offset 0 (DF may be set); a total length
    // of 0 (TSO) or at least the header.
    const bool plain =
        p[kEth] == 0x45 && (load<std::uint16_t>(p + kEth + 6) & be_const(0x3fff)) == 0 && (total == 0 || total >= 20);
    if (!plain) [[unlikely]]
      return false;
    proto = p[kEth + 9];
    // IPv4-mapped: words 0 and 8 of each address, written whole.
    const std::uint64_t hi = 0, lo_src = std::uint64_t{load<std::uint32_t>(p + kEth + 12)} << 32 | 0xffff0000u,
                        lo_dst = std::uint64_t{load<std::uint32_t>(p + kEth + 16)} << 32 | 0xffff0000u;
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(&k.src[0], &hi, 8);
      std::memcpy(&k.src[8], &lo_src, 8);
      std::memcpy(&k.dst[0], &hi, 8);
      std::memcpy(&k.dst[8], &lo_dst, 8);
    } else {
      k.src = ipv4_address(p + kEth + 12);
      k.dst = ipv4_address(p + kEth + 16);
    }
    k.family = 4;
    out.ip_len = total;
    l4 = kV4;
    end = total != 0 ? std::min(len, kEth + total) : len;
  } else if (type == be_const(kEthIpv6)) {
    if (len < kV6 + 8 || (p[kEth] >> 4) != 6) [[unlikely]]
      return false;
    proto = p[kEth + 6];
    if (proto != kIpProtoTcp && proto != kIpProtoUdp) [[unlikely]]
      return false;
    const std::size_t payload = be16(p, kEth + 4);
    std::memcpy(k.src.data(), p + kEth + 8, 16);
    std::memcpy(k.dst.data(), p + kEth + 24, 16);
    k.family = 6;
    out.ip_len = payload != 0 ? static_cast<std::uint32_t>(payload + 40) : 0;
    l4 = kV6;
    end = payload != 0 ? std::min(len, kV6 + payload) : len;
  } else {
    return false;
  }
  // end >= l4 here: IPv4's total is >= 20, IPv6's header was captured. The
  // port loads are inside the captured frame (len >= l4 + 8) even where
  // the IP packet ends sooner; they are used only once `avail` allows.
  const std::size_t avail = end - l4;
  k.src_port = be16(p, l4);
  k.dst_port = be16(p, l4 + 2);
  k.vni = 0;
  k.protocol = proto;
  k.tunnel = Tunnel::kNone;
  k.reserved0 = 0;
  k.reserved1 = 0;
  out.l3_offset = kEth;
  out.tcp_flags = 0;
  out.fragment = false;
  out.fragment_unattributed = false;
  if (proto == kIpProtoTcp) [[likely]] {
    if (avail < 14 || (p[l4 + 12] >> 4) < 5) [[unlikely]]
      return false;
    out.tcp_flags = p[l4 + 13];
    out.hdr_len = static_cast<std::uint32_t>(l4 + (p[l4 + 12] >> 4) * 4);
  } else if (proto == kIpProtoUdp) {
    if (avail < 8) [[unlikely]]
      return false;
    const std::uint16_t ulen = be16(p, l4 + 4);
    if (ulen < 8) [[unlikely]]
      return false;
    out.hdr_len = static_cast<std::uint32_t>(l4 + 8);
    if (cfg_.decapsulate) {
      const TunnelKind t = tunnel_kind(k.dst_port);
      if (t != TunnelKind::kNone) [[unlikely]] {
        // `out` holds the outer flow, as in the general path: parse_tunnel()
        // replaces it once the tunnel header checks out.
        status = parse_tunnel(p, end, l4 + 8, l4 + ulen, t == TunnelKind::kGeneve, out);
        return true;
      }
    }
  } else {
    return false;
  }
  status = ParseStatus::kOk;
  return true;
}

inline ParseStatus Parser::parse_ethernet(const std::uint8_t* p, std::size_t len, std::size_t off, ParsedPacket& out,
                                          int depth) {
  if (!has(len, off, 14)) return depth == 0 ? ParseStatus::kTruncatedEthernet : ParseStatus::kTruncatedInnerFrame;
  std::uint16_t type = be16(p, off + 12);
  off += 14;
  for (int tags = 0; type == 0x8100 || type == 0x88a8 || type == 0x9100; ++tags) {
    if (tags == kMaxVlanTags) return ParseStatus::kTooManyVlanTags;
    if (!has(len, off, 4)) return ParseStatus::kTruncatedVlan;
    type = be16(p, off + 2);
    off += 4;
  }
  return parse_l3(p, len, off, type, out, depth);
}

inline ParseStatus Parser::parse_l3(const std::uint8_t* p, std::size_t len, std::size_t off, std::uint16_t ethertype,
                                    ParsedPacket& out, int depth) {
  if (ethertype == kEthIpv4) return parse_ipv4(p, len, off, out, depth);
  if (ethertype == kEthIpv6) return parse_ipv6(p, len, off, out, depth);
  return ParseStatus::kNotIp;
}

inline ParseStatus Parser::parse_ipv4(const std::uint8_t* p, std::size_t len, std::size_t off, ParsedPacket& out,
                                      int depth) {
  if (!has(len, off, 20)) return ParseStatus::kTruncatedIpv4;
  if (p[off] >> 4 != 4) return ParseStatus::kBadIpv4Version;
  const std::size_t ihl = std::size_t{p[off] & 0x0fu} * 4;
  if (ihl < 20) return ParseStatus::kBadIpv4Ihl;
  if (!has(len, off, ihl)) return ParseStatus::kTruncatedIpv4;  // options cut by the snap length
  const std::uint16_t total = be16(p, off + 2);
  // 0 is what TSO and BIG TCP super-packets carry: the length is the skb's.
  if (total != 0 && total < ihl) return ParseStatus::kBadIpv4TotalLength;

  FlowKey& k = out.key;
  k.family = 4;
  k.protocol = p[off + 9];
  k.src = ipv4_address(p + off + 12);
  k.dst = ipv4_address(p + off + 16);
  out.ip_len = total;
  out.l3_offset = static_cast<std::uint32_t>(off);

  // Ethernet pads short frames: the IP length, not the frame's, ends the packet.
  const std::size_t end = total != 0 ? std::min(len, off + total) : len;
  const std::uint16_t frag = be16(p, off + 6);
  const std::uint32_t id = be16(p, off + 4);
  const bool more = frag & 0x2000;
  const std::uint16_t frag_off = frag & 0x1fff;
  if (frag_off != 0) {
    out.fragment = true;
    ++counters_.fragments;
    attribute_fragment(id, out);
    return ParseStatus::kOk;
  }
  if (more) {
    out.fragment = true;
    ++counters_.fragments;
  }
  const ParseStatus s = parse_l4(p, end, off + ihl, out, depth);
  if (more && s == ParseStatus::kOk) remember_fragment(k, id);
  return s;
}

ParseStatus Parser::parse_ipv6(const std::uint8_t* p, std::size_t len, std::size_t off, ParsedPacket& out, int depth) {
  if (!has(len, off, 40)) return ParseStatus::kTruncatedIpv6;
  if (p[off] >> 4 != 6) return ParseStatus::kBadIpv6Version;
  const std::size_t payload = be16(p, off + 4);
  std::uint8_t nh = p[off + 6];

  FlowKey& k = out.key;
  k.family = 6;
  std::copy(p + off + 8, p + off + 24, k.src.begin());
  std::copy(p + off + 24, p + off + 40, k.dst.begin());
  // Payload length 0: a jumbogram (hop-by-hop option) or a BIG TCP super-packet.
  out.ip_len = payload != 0 ? static_cast<std::uint32_t>(payload + 40) : 0;
  out.l3_offset = static_cast<std::uint32_t>(off);

  const std::size_t declared_end = payload != 0 ? off + 40 + payload : SIZE_MAX;
  const std::size_t end = std::min(len, declared_end);
  std::size_t cur = off + 40;
  bool first_fragment = false;
  std::uint32_t frag_id = 0;
  for (int n = 0;; ++n) {
    std::size_t hlen = 0;
    switch (nh) {
      case 0:     // hop-by-hop options
      case 43:    // routing
      case 60:    // destination options
      case 135:   // mobility
      case 139:   // HIP
      case 140:   // shim6
      case 51: {  // AH: length in 4-byte units minus 2, and a multiple of 8 in IPv6 (RFC 4302)
        if (!has(end, cur, 2))
          return cur + 2 > declared_end ? ParseStatus::kBadIpv6ExtLen : ParseStatus::kTruncatedIpv6Ext;
        hlen = nh == 51 ? (std::size_t{p[cur + 1]} + 2) * 4 : (std::size_t{p[cur + 1]} + 1) * 8;
        if (nh == 51 && hlen % 8 != 0) return ParseStatus::kBadIpv6ExtLen;
        break;
      }
      case 44: {  // fragment: fixed 8 bytes
        hlen = 8;
        if (!has(end, cur, 8))
          return cur + 8 > declared_end ? ParseStatus::kBadIpv6ExtLen : ParseStatus::kTruncatedIpv6Ext;
        const std::uint16_t fo = be16(p, cur + 2);
        frag_id = be32(p, cur + 4);
        if ((fo >> 3) != 0) {
          k.protocol = p[cur];  // corrected from the cache when the first fragment was seen
          out.fragment = true;
          ++counters_.fragments;
          attribute_fragment(frag_id, out);
          return ParseStatus::kOk;
        }
        if (fo & 1) {
          first_fragment = true;
          out.fragment = true;
          ++counters_.fragments;
        }
        // offset 0 without M is an atomic fragment (RFC 6946): a whole packet.
        break;
      }
      default: {
        k.protocol = nh;
        const ParseStatus s = parse_l4(p, end, cur, out, depth);
        if (first_fragment && s == ParseStatus::kOk) remember_fragment(k, frag_id);
        return s;
      }
    }
    if (n + 1 == kMaxIpv6ExtHeaders) return ParseStatus::kTooManyIpv6Ext;
    if (cur + hlen > declared_end) return ParseStatus::kBadIpv6ExtLen;
    if (!has(end, cur, hlen)) return ParseStatus::kTruncatedIpv6Ext;
    nh = p[cur];
    cur += hlen;
  }
}

// `len` here is already the end of the IP packet within the captured bytes.
inline ParseStatus Parser::parse_l4(const std::uint8_t* p, std::size_t len, std::size_t off, ParsedPacket& out,
                                    int depth) {
  FlowKey& k = out.key;
  switch (k.protocol) {
    case kIpProtoTcp:
      if (!has(len, off, 14)) return ParseStatus::kTruncatedTcp;
      if ((p[off + 12] >> 4) < 5) return ParseStatus::kBadTcpDataOffset;
      k.src_port = be16(p, off);
      k.dst_port = be16(p, off + 2);
      out.tcp_flags = p[off + 13];
      out.hdr_len = static_cast<std::uint32_t>(off + (p[off + 12] >> 4) * 4);
      return ParseStatus::kOk;
    case kIpProtoUdp: {
      if (!has(len, off, 8)) return ParseStatus::kTruncatedUdp;
      const std::uint16_t ulen = be16(p, off + 4);
      if (ulen < 8) return ParseStatus::kBadUdpLength;
      k.src_port = be16(p, off);
      k.dst_port = be16(p, off + 2);
      out.hdr_len = static_cast<std::uint32_t>(off + 8);
      // A fragmented tunnel packet is kept as the outer flow: its inner
      // frame is spread over fragments this sample does not have.
      if (depth == 0 && cfg_.decapsulate && !out.fragment) {
        const TunnelKind t = tunnel_kind(k.dst_port);
        if (t != TunnelKind::kNone) return parse_tunnel(p, len, off + 8, off + ulen, t == TunnelKind::kGeneve, out);
      }
      return ParseStatus::kOk;
    }
    case kIpProtoIcmp:
    case kIpProtoIcmpv6:
      if (!has(len, off, 4)) return ParseStatus::kTruncatedIcmp;
      k.dst_port = static_cast<std::uint16_t>(p[off] << 8 | p[off + 1]);
      out.hdr_len = static_cast<std::uint32_t>(off);
      return ParseStatus::kOk;
    case kIpProtoSctp:
      if (!has(len, off, 12)) return ParseStatus::kTruncatedSctp;
      k.src_port = be16(p, off);
      k.dst_port = be16(p, off + 2);
      out.hdr_len = static_cast<std::uint32_t>(off);
      return ParseStatus::kOk;
    default:  // ESP, GRE, IPIP, ...: a flow by addresses and protocol
      out.hdr_len = static_cast<std::uint32_t>(off);
      return ParseStatus::kOk;
  }
}

// off: first byte of the VXLAN/Geneve header; udp_end: where the UDP length
// says the datagram ends (may lie past the captured `len`).
ParseStatus Parser::parse_tunnel(const std::uint8_t* p, std::size_t len, std::size_t off, std::size_t udp_end,
                                 bool geneve, ParsedPacket& out) {
  const std::size_t cap = std::min(len, udp_end);
  std::uint32_t vni = 0;
  std::size_t inner = 0;
  std::uint16_t inner_type = 0;  // 0: Ethernet
  if (!geneve) {
    if (!has(cap, off, 8)) return ParseStatus::kTruncatedVxlan;
    if (!(p[off] & 0x08)) return ParseStatus::kBadVxlanFlags;  // I flag: the VNI is valid (RFC 7348)
    vni = be32(p, off + 4) >> 8;
    inner = off + 8;
  } else {
    if (!has(cap, off, 8)) return ParseStatus::kTruncatedGeneve;
    if (p[off] >> 6 != 0) return ParseStatus::kBadGeneveVersion;
    const std::size_t opt_len = std::size_t{p[off] & 0x3fu} * 4;
    const std::uint16_t proto = be16(p, off + 2);
    vni = be32(p, off + 4) >> 8;
    inner = off + 8 + opt_len;
    if (inner > udp_end) return ParseStatus::kBadGeneveOptLen;
    if (inner > cap) return ParseStatus::kTruncatedGeneve;
    if (proto == kEthIpv4 || proto == kEthIpv6) {
      inner_type = proto;
    } else if (proto != kEthTransparentBridging) {
      return ParseStatus::kUnsupportedGeneveProtocol;
    }
  }
  out = ParsedPacket{};
  out.key.vni = vni;
  out.key.tunnel = geneve ? Tunnel::kGeneve : Tunnel::kVxlan;
  ++counters_.decapsulated;
  if (inner_type != 0) {
    // IP straight after the Geneve header: an empty inner frame is still an inner-frame problem.
    if (!has(cap, inner, 1)) return ParseStatus::kTruncatedInnerFrame;
    return parse_l3(p, cap, inner, inner_type, out, 1);
  }
  return parse_ethernet(p, cap, inner, out, 1);
}

// A port in both lists is VXLAN, as it always was.
inline Parser::TunnelKind Parser::tunnel_kind(std::uint16_t dst_port) const {
#if defined(__SSE2__)
  const __m128i eq = _mm_cmpeq_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(tunnel_ports_.data())),
                                     _mm_set1_epi16(static_cast<short>(dst_port)));
  const std::uint32_t m = static_cast<std::uint32_t>(_mm_movemask_epi8(eq)) & tunnel_lanes_;
  if (m == 0) [[likely]]
    return TunnelKind::kNone;
  return (m & 0xff) != 0 ? TunnelKind::kVxlan : TunnelKind::kGeneve;
#else
  for (std::size_t i = 0; i < 8; ++i)
    if (tunnel_ports_[i] != 0 && tunnel_ports_[i] == dst_port) return i < 4 ? TunnelKind::kVxlan : TunnelKind::kGeneve;
  return TunnelKind::kNone;
#endif
}

Parser::FragEntry& Parser::frag_slot(const FlowKey& k, std::uint32_t id) {
  std::uint64_t a, b;
  std::memcpy(&a, &k.src[8], 8);
  std::memcpy(&b, &k.dst[8], 8);
  const std::uint64_t h = (a * 0x9e3779b97f4a7c15ull) ^ (b * 0xc2b2ae3d27d4eb4full) ^ (id * 0x165667b19e3779f9ull);
  return frags_[(h ^ (h >> 29)) % kFragSlots];
}

void Parser::remember_fragment(const FlowKey& k, std::uint32_t id) {
  FragEntry& e = frag_slot(k, id);
  e = FragEntry{k.src, k.dst, id, k.src_port, k.dst_port, k.protocol, true};
}

void Parser::attribute_fragment(std::uint32_t id, ParsedPacket& out) {
  FlowKey& k = out.key;
  const FragEntry& e = frag_slot(k, id);
  // IPv4 ids are unique per (src, dst, protocol) and every fragment carries
  // the protocol; an IPv6 later fragment's next header may be an extension
  // header of the fragmentable part, so there the cache supplies it.
  const bool proto_ok = k.family != 4 || e.protocol == k.protocol;
  if (e.used && e.id == id && proto_ok && e.src == k.src && e.dst == k.dst) {
    k.protocol = e.protocol;
    k.src_port = e.src_port;
    k.dst_port = e.dst_port;
    ++counters_.fragments_attributed;
  } else {
    out.fragment_unattributed = true;
    ++counters_.fragments_unattributed;
  }
}

}  // namespace netring::flow
