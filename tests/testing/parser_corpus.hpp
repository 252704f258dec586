// Crafted frames for parser tests: every header combination flow::Parser
// supports (ok_cases) and every malformed shape it must count (malformed),
// with the helpers that make them. Shared by the user-space parser's unit
// test and the test that runs the sampler's BPF parser over the same frames.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <vector>

#include "pkg/flow/key.hpp"
#include "pkg/flow/parser.hpp"

namespace netring::testing::corpus {

using Bytes = std::vector<std::uint8_t>;

constexpr std::size_t kEth = 14;

flow::FrameView view(const Bytes& b);
void put16(Bytes& b, std::size_t off, std::uint16_t v);
std::uint16_t get16(const Bytes& b, std::size_t off);
flow::Address v4(const char* s);
flow::Address v6(const char* s);
// IPv4 options after the 20-byte header at `ip`: IHL and total length follow.
Bytes with_ipv4_options(Bytes b, std::size_t ip, const Bytes& opts);
// An IPv6 extension header right after the fixed header at `ip`; `ext[0]`
// (its next header) is filled in from the chain.
Bytes with_ipv6_ext(Bytes b, std::size_t ip, std::uint8_t type, Bytes ext);
Bytes ext_generic(std::uint8_t units);  // hdr ext len = units
Bytes ext_fragment(std::uint16_t offset8, bool more, std::uint32_t id);
Bytes ext_ah(std::uint8_t len_field);
Bytes set_frag4(Bytes b, std::size_t ip, std::uint16_t offset8, bool more, std::uint16_t id);
Bytes vxlan_hdr(std::uint32_t vni, std::uint8_t flags = 0x08);
Bytes geneve_hdr(std::uint32_t vni, std::uint16_t proto = 0x6558, std::uint8_t opt_words = 0, std::uint8_t ver = 0);
Bytes cat(Bytes a, const Bytes& b);
Bytes truncated(Bytes b, std::size_t n);
const Bytes& inner_tcp();   // IPv4 TCP frame to put in a tunnel
const Bytes& inner_udp6();  // IPv6 UDP frame to put in a tunnel
Bytes vxlan(const Bytes& inner, std::uint16_t port = 4789, std::uint32_t vni = 42);
Bytes geneve(const Bytes& g_hdr, const Bytes& inner);

struct Want {
  std::uint8_t protocol = 0;
  flow::Address src{}, dst{};
  std::uint16_t src_port = 0, dst_port = 0;
  std::uint8_t family = 0;
  flow::Tunnel tunnel = flow::Tunnel::kNone;
  std::uint32_t vni = 0;
  std::uint8_t tcp_flags = 0;
  std::uint32_t ip_len = 0;
  bool fragment = false;
};

struct Case {
  const char* name;
  Bytes frame;
  flow::ParseStatus status;
  std::optional<Want> want = std::nullopt;
};
inline void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

std::vector<Case> ok_cases();
std::vector<Case> malformed_cases();

}  // namespace netring::testing::corpus
