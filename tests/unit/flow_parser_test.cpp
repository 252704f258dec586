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
#include "tests/testing/parser_corpus.hpp"

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

using namespace netring::testing::corpus;  // NOLINT(google-build-using-namespace): the corpus is this test's vocabulary

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
  const Bytes first = set_frag4(vxlan(inner_tcp()), kEth, 0, true, 5);
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
  ASSERT_EQ(parser.parse(view(vxlan(inner_tcp(), 4790, 3)), out), ParseStatus::kOk);
  EXPECT_EQ(out.key.tunnel, Tunnel::kVxlan);
  EXPECT_EQ(out.key.vni, 3u);
  EXPECT_EQ(out.key.dst_port, 8080);
  ASSERT_EQ(parser.parse(view(vxlan(inner_tcp(), 4789, 3)), out), ParseStatus::kOk);
  EXPECT_EQ(out.key.tunnel, Tunnel::kNone) << "4789 is no longer a tunnel port";
  ASSERT_EQ(parser.parse(view(geneve(geneve_hdr(1), inner_tcp())), out), ParseStatus::kOk);
  EXPECT_EQ(out.key.tunnel, Tunnel::kNone);
  EXPECT_EQ(out.key.dst_port, 6081);

  cfg.decapsulate = false;
  Parser off(cfg);
  ASSERT_EQ(off.parse(view(vxlan(inner_tcp(), 4790, 3)), out), ParseStatus::kOk);
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
  ASSERT_EQ(parser.parse(view(vxlan(inner_tcp())), out), ParseStatus::kOk);
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
  cases.push_back({"vxlan_ipv6_inner", vxlan(inner_udp6()), ParseStatus::kOk});
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
    ASSERT_EQ(parser.parse(view(vxlan(inner_tcp(), 7000, 9)), out), ParseStatus::kOk);
    EXPECT_EQ(out.key.tunnel, Tunnel::kVxlan);
    EXPECT_EQ(out.key.vni, 9u);
    const Bytes gen = PacketBuilder()
                          .eth()
                          .ipv4("192.168.0.1", "192.168.0.2")
                          .udp(51000, 7001)
                          .payload(cat(geneve_hdr(5), inner_tcp()))
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
