// Turns a captured frame into a flow key.
//
// Hostile input: every read is bounds-checked against the captured length
// (never the lengths the headers claim), offsets are integers compared before
// any pointer is formed, and multi-byte fields are read with memcpy. Every
// frame that does not yield a flow is counted under a ParseStatus whose
// snake_case name is stable (it becomes a metric label).
//
// Snap length: the sampler truncates samples, so a frame is expected to end
// inside its payload. Only the headers up to what the key needs must be
// captured: 14 bytes of TCP (ports and flags), 8 of UDP, 12 of SCTP, 4 of
// ICMP. IPv6-in-IPv6 VXLAN with TCP needs a snap length of at least 142.
//
// One Parser per capture worker: it holds the fragment cache and counters
// and is not thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "pkg/flow/key.hpp"

namespace netring::flow {

struct FrameView {
  const std::byte* data = nullptr;
  std::uint32_t len = 0;  // captured bytes
};

// Append new values at the end: metrics and stored counters index by value.
enum class ParseStatus : std::uint8_t {
  kOk = 0,
  kNotIp,  // ARP, LLDP, ...: not malformed, just not a flow
  kTruncatedEthernet,
  kTruncatedVlan,
  kTooManyVlanTags,
  kTruncatedIpv4,
  kBadIpv4Version,
  kBadIpv4Ihl,
  kBadIpv4TotalLength,
  kTruncatedIpv6,
  kBadIpv6Version,
  kTruncatedIpv6Ext,
  kBadIpv6ExtLen,
  kTooManyIpv6Ext,
  kTruncatedTcp,
  kBadTcpDataOffset,
  kTruncatedUdp,
  kBadUdpLength,
  kTruncatedIcmp,
  kTruncatedSctp,
  kTruncatedVxlan,
  kBadVxlanFlags,
  kTruncatedGeneve,
  kBadGeneveVersion,
  kBadGeneveOptLen,
  kUnsupportedGeneveProtocol,  // neither Ethernet nor IP inside
  kTruncatedInnerFrame,
  kCount,
};

const char* to_string(ParseStatus s);  // "truncated_ipv4", ...

struct ParsedPacket {
  FlowKey key;
  // IP total length of the packet the key describes (the inner one when
  // decapsulated). When the header says 0 (IPv4 with TSO/BIG TCP, IPv6
  // jumbograms) ip_len is 0.
  std::uint32_t ip_len = 0;
  // Offset of that packet's IP header in the frame: when ip_len is 0 the
  // table takes wire_len - l3_offset instead.
  std::uint32_t l3_offset = 0;
  // Frame bytes before the innermost L4 payload (after its TCP/UDP header;
  // at the L4 header for other protocols): what each segment of a GSO skb
  // repeats on the wire.
  std::uint32_t hdr_len = 0;
  std::uint8_t tcp_flags = 0;
  bool fragment = false;               // any IPv4/IPv6 fragment
  bool fragment_unattributed = false;  // non-first fragment whose ports were not found
};

struct ParserConfig {
  std::array<std::uint16_t, 4> vxlan_ports{4789, 8472, 0, 0};  // 0 = unused slot
  std::array<std::uint16_t, 4> geneve_ports{6081, 0, 0, 0};
  bool decapsulate = true;
  // false: every frame takes the general path. The fast path exists for the
  // common shapes only and must agree with it; tests compare the two.
  bool fast_path = true;
};

struct ParserCounters {
  std::array<std::uint64_t, static_cast<std::size_t>(ParseStatus::kCount)> by_status{};
  std::uint64_t decapsulated = 0;            // tunnel headers accepted (the inner frame may still fail)
  std::uint64_t fragments = 0;               // every fragment seen
  std::uint64_t fragments_attributed = 0;    // non-first, ports found in the cache
  std::uint64_t fragments_unattributed = 0;  // non-first, counted with ports 0

  std::uint64_t operator[](ParseStatus s) const { return by_status[static_cast<std::size_t>(s)]; }
};

class Parser {
 public:
  explicit Parser(ParserConfig cfg = {});

  // Fills `out` and returns kOk, or returns why no flow came out of it.
  // Either way the status is counted.
  ParseStatus parse(FrameView frame, ParsedPacket& out);

  // Starts loading the lines of a frame the parser reads (headers up to
  // VXLAN-inner TCP fit in the first two). Frames that sit in a capture ring
  // are usually out of cache: issuing this a few frames ahead of parse()
  // overlaps those misses instead of stalling on each one in turn.
  static void prefetch(FrameView frame) {
    __builtin_prefetch(frame.data, 0, 3);
    if (frame.len > 64) __builtin_prefetch(frame.data + 64, 0, 3);
  }

  const ParserCounters& counters() const { return counters_; }
  const ParserConfig& config() const { return cfg_; }

 private:
  // Later fragments carry no L4 header: the first fragment's ports are
  // remembered here by (src, dst, id, protocol), direct-mapped and
  // overwritten on collision. A fixed 256 entries: enough for the handful of
  // concurrently fragmented flows real traffic has; a miss is counted, not
  // guessed. The fragment id is the collision check, so an old entry can
  // only misattribute a later fragment whose 16/32-bit id was reused while
  // it sat in its slot.
  struct FragEntry {
    Address src;
    Address dst;
    std::uint32_t id;
    std::uint16_t src_port;
    std::uint16_t dst_port;
    std::uint8_t protocol;
    bool used;
  };
  static constexpr std::size_t kFragSlots = 256;

  [[gnu::always_inline]] inline ParseStatus parse_ethernet(const std::uint8_t* p, std::size_t len, std::size_t off,
                                                           ParsedPacket& out, int depth);
  [[gnu::always_inline]] inline ParseStatus parse_l3(const std::uint8_t* p, std::size_t len, std::size_t off,
                                                     std::uint16_t ethertype, ParsedPacket& out, int depth);
  [[gnu::always_inline]] inline ParseStatus parse_ipv4(const std::uint8_t* p, std::size_t len, std::size_t off,
                                                       ParsedPacket& out, int depth);
  ParseStatus parse_ipv6(const std::uint8_t* p, std::size_t len, std::size_t off, ParsedPacket& out, int depth);
  [[gnu::always_inline]] inline ParseStatus parse_l4(const std::uint8_t* p, std::size_t len, std::size_t off,
                                                     ParsedPacket& out, int depth);
  // Out of line: it re-enters the inlined chain above for the inner frame.
  [[gnu::noinline]] ParseStatus parse_tunnel(const std::uint8_t* p, std::size_t len, std::size_t off,
                                             std::size_t udp_end, bool geneve, ParsedPacket& out);
  // Untagged Ethernet, IPv4 without options or fragmentation or IPv6 without
  // extension headers, then TCP or UDP, all captured: settles the frame and
  // returns true, or returns false having counted nothing, and the general
  // path starts over. It never decides an error: those are the general
  // path's, so both agree on every status by construction.
  [[gnu::always_inline]] inline bool parse_fast(const std::uint8_t* p, std::size_t len, ParsedPacket& out,
                                                ParseStatus& status);
  enum class TunnelKind : std::uint8_t { kNone, kVxlan, kGeneve };
  TunnelKind tunnel_kind(std::uint16_t dst_port) const;
  FragEntry& frag_slot(const FlowKey& k, std::uint32_t id);
  void remember_fragment(const FlowKey& k, std::uint32_t id);
  void attribute_fragment(std::uint32_t id, ParsedPacket& out);

  ParserConfig cfg_;
  // vxlan_ports then geneve_ports, and which 16-bit lanes are in use (two
  // movemask bits per lane): one compare tells a tunnel port, with port 0
  // never matching an unused slot.
  alignas(16) std::array<std::uint16_t, 8> tunnel_ports_{};
  std::uint32_t tunnel_lanes_ = 0;
  ParserCounters counters_;
  std::array<FragEntry, kFragSlots> frags_{};
};

}  // namespace netring::flow
