// libFuzzer target for the flow parser (and the table it feeds): any byte
// string must parse to a counted status without a crash, an out-of-bounds
// read (ASan) or undefined behaviour (UBSan), and what comes out as ok must
// be a sane flow, the same flow on the fast path as on the general one.
// Built only with -DNETRING_FUZZ=ON and clang; run it with scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "pkg/flow/parser.hpp"
#include "pkg/flow/table.hpp"

namespace {

using namespace netring::flow;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

FlowTable& table() {
  // Small, so eviction and backward shifts run often; kept across inputs.
  static FlowTable t = [] {
    FlowTableConfig cfg;
    cfg.max_flows = 64;
    cfg.seed = 1;
    cfg.eviction_window = 4;
    cfg.clock = [] { return std::uint64_t{1}; };
    auto r = FlowTable::create(cfg);
    if (!r.ok()) std::abort();
    return std::move(r).value();
  }();
  return t;
}

void one(Parser& parser, const std::uint8_t* data, std::size_t size) {
  ParsedPacket out;
  const FrameView frame{reinterpret_cast<const std::byte*>(data), static_cast<std::uint32_t>(size)};
  const ParseStatus s = parser.parse(frame, out);
  check(static_cast<std::size_t>(s) < static_cast<std::size_t>(ParseStatus::kCount));
  if (s != ParseStatus::kOk) return;
  check(out.key.family == 4 || out.key.family == 6);
  check(out.l3_offset < size);
  check((out.key.vni >> 24) == 0);
  check(out.key.tunnel != Tunnel::kNone || out.key.vni == 0);
  check(out.key.reserved0 == 0 && out.key.reserved1 == 0);
  SampleInfo info;
  info.weight = 1.0 + (size % 7);
  info.timestamp_ns = 1 + size;
  info.wire_len = static_cast<std::uint32_t>(size);
  table().update(out, info);
  check(table().size() <= table().max_flows());
  check(table().find(out.key) != nullptr);
}

// The fast path must agree with the general one on every input: same
// status, same output when ok, same counters.
void agree(ParserConfig cfg, const std::uint8_t* data, std::size_t size) {
  cfg.fast_path = true;
  Parser fast(cfg);
  cfg.fast_path = false;
  Parser general(cfg);
  ParsedPacket a, b;
  const FrameView frame{reinterpret_cast<const std::byte*>(data), static_cast<std::uint32_t>(size)};
  const ParseStatus sa = fast.parse(frame, a), sb = general.parse(frame, b);
  check(sa == sb);
  if (sa == ParseStatus::kOk) {
    check(a.key == b.key && a.ip_len == b.ip_len && a.l3_offset == b.l3_offset && a.tcp_flags == b.tcp_flags &&
          a.fragment == b.fragment && a.fragment_unattributed == b.fragment_unattributed);
  }
  check(fast.counters().by_status == general.counters().by_status);
  check(fast.counters().decapsulated == general.counters().decapsulated);
  check(fast.counters().fragments == general.counters().fragments);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 65535) return 0;
  Parser plain;
  one(plain, data, size);
  one(plain, data, size);  // again, with the fragment cache the first pass may have filled

  // The same bytes with every tunnel port taken by a byte of the input, so
  // the fuzzer reaches decapsulation without having to find 4789 itself.
  ParserConfig cfg;
  if (size >= 2) {
    const auto port = static_cast<std::uint16_t>(data[0] << 8 | data[1]);
    cfg.vxlan_ports = {port, 4789, 8472, 0};
    cfg.geneve_ports = {static_cast<std::uint16_t>(port ^ 1), 6081, 0, 0};
  }
  Parser tunnels(cfg);
  one(tunnels, data, size);
  agree(ParserConfig{}, data, size);
  agree(cfg, data, size);

  std::uint64_t total = 0;
  for (auto n : plain.counters().by_status) total += n;
  check(total == 2);
  return 0;
}
