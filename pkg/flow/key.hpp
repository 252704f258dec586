// The flow key: what makes two sampled packets the same flow.
//
// Flows are unidirectional (src -> dst), like Hubble and NetObserv records:
// the two directions of a connection are two keys, so each direction keeps
// its own byte count, the way conntrack accounts "orig" and "reply".
//
// Layout is fixed at 48 bytes with every padding byte explicit and zeroed, so
// equality is a word compare and the hash reads six aligned 64-bit words.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace netring::flow {

// IPv4 addresses are stored IPv4-mapped (::ffff:a.b.c.d) so both families
// share one 16-byte form; `family` keeps them apart even if an IPv6 packet
// carries a mapped address.
using Address = std::array<std::uint8_t, 16>;

inline Address ipv4_address(const std::uint8_t* be4) {
  Address a{};
  a[10] = 0xff;
  a[11] = 0xff;
  std::memcpy(&a[12], be4, 4);
  return a;
}
std::string to_string(const Address& a);

enum class Tunnel : std::uint8_t { kNone = 0, kVxlan = 1, kGeneve = 2 };

struct FlowKey {
  Address src{};
  Address dst{};
  // TCP/UDP/SCTP ports; for ICMP and ICMPv6 src_port is 0 and dst_port is
  // type << 8 | code (the NetFlow convention), so one field sorts by both.
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint32_t vni = 0;      // 24-bit VXLAN/Geneve VNI of the outer header; 0 when tunnel == kNone
  std::uint8_t protocol = 0;  // IANA protocol number of the innermost L4 header
  std::uint8_t family = 0;    // 4 or 6
  Tunnel tunnel = Tunnel::kNone;
  std::uint8_t reserved0 = 0;
  std::uint32_t reserved1 = 0;

  bool is_ipv4() const { return family == 4; }
  std::uint8_t icmp_type() const { return static_cast<std::uint8_t>(dst_port >> 8); }
  std::uint8_t icmp_code() const { return static_cast<std::uint8_t>(dst_port); }

  // Three 16-byte compares, branch-free: memcmp would be a library call
  // per lookup, and copying into word arrays spills to the stack.
  friend bool operator==(const FlowKey& a, const FlowKey& b) {
#if defined(__SSE2__)
    const auto* x = reinterpret_cast<const __m128i*>(&a);
    const auto* y = reinterpret_cast<const __m128i*>(&b);
    const __m128i e = _mm_and_si128(_mm_cmpeq_epi8(_mm_loadu_si128(x), _mm_loadu_si128(y)),
                                    _mm_and_si128(_mm_cmpeq_epi8(_mm_loadu_si128(x + 1), _mm_loadu_si128(y + 1)),
                                                  _mm_cmpeq_epi8(_mm_loadu_si128(x + 2), _mm_loadu_si128(y + 2))));
    return _mm_movemask_epi8(e) == 0xffff;
#else
    return std::memcmp(&a, &b, sizeof(FlowKey)) == 0;
#endif
  }
};
static_assert(sizeof(FlowKey) == 48, "FlowKey must stay six 64-bit words: the hash and compare rely on it");
static_assert(std::has_unique_object_representations_v<FlowKey>, "no implicit padding in FlowKey");

std::string to_string(const FlowKey& k);

// Seeded so that a remote sender cannot precompute colliding keys and turn
// the table's linear probing quadratic (hash flooding). Two 64x64->128
// multiply-folds per 16 bytes: a few ns, no table lookups.
inline std::uint64_t hash_key(const FlowKey& k, std::uint64_t seed) {
  const auto* p = reinterpret_cast<const unsigned char*>(&k);
  auto word = [p](int i) {
    std::uint64_t v;
    std::memcpy(&v, p + 8 * i, 8);
    return v;
  };
  auto mum = [](std::uint64_t a, std::uint64_t b) {
    const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
    return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
  };
  constexpr std::uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull, k2 = 0x8ebc6af09c88c6e3ull;
  std::uint64_t h = mum(word(0) ^ k0 ^ seed, word(1) ^ k1);
  h ^= mum(word(2) ^ k2 ^ seed, word(3) ^ k0);
  h ^= mum(word(4) ^ k1 ^ seed, word(5) ^ k2);
  return mum(h ^ k0, seed ^ k1);
}

// The key of the other direction.
inline FlowKey reversed(const FlowKey& k) {
  FlowKey r = k;
  r.src = k.dst;
  r.dst = k.src;
  r.src_port = k.dst_port;
  r.dst_port = k.src_port;
  return r;
}

// One end of a flow: the address and port of its source (src = true) or
// destination in src and src_port, with family, protocol and tunnel; the
// other end zeroed. What a client's packets and the answers to them share
// when a Service's DNAT changes the server's address between the two.
inline FlowKey endpoint_key(const FlowKey& k, bool src) {
  FlowKey r{};
  r.family = k.family;
  r.protocol = k.protocol;
  r.tunnel = k.tunnel;
  r.vni = k.vni;
  r.src = src ? k.src : k.dst;
  r.src_port = src ? k.src_port : k.dst_port;
  return r;
}

struct FlowKeyHash {
  std::uint64_t seed = 0x243f6a8885a308d3ull;
  std::size_t operator()(const FlowKey& k) const { return hash_key(k, seed); }
};

}  // namespace netring::flow
