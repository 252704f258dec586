// libFuzzer target for the DNS message parser (and the matcher it feeds):
// any byte string, as a UDP payload or a TCP segment, must parse to a
// counted status without a crash, an out-of-bounds read (ASan) or undefined
// behaviour (UBSan); a usable message has a bounded, printable name.
// Built only with -DNETRING_FUZZ=ON and clang; run it with scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <span>

#include "pkg/dns/message.hpp"
#include "pkg/dns/tracker.hpp"

namespace {

using namespace netring::dns;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

Tracker& tracker() {
  static Tracker t(TrackerConfig{.timeout_ns = 1000, .max_pending = 64});
  return t;
}

void one(std::span<const std::byte> bytes, bool tcp, std::uint64_t ts) {
  Message m;
  const ParseStatus s = parse_message(bytes, tcp, m);
  check(static_cast<std::size_t>(s) < static_cast<std::size_t>(ParseStatus::kCount));
  if (!header_valid(s)) return;
  check(m.name_len <= Message::kMaxName);
  for (std::size_t i = 0; i < m.name_len; ++i) check(m.name[i] > 0x20 && m.name[i] < 0x7f);
  check(s != ParseStatus::kOk || m.name_len > 0);
  netring::flow::FlowKey k{};
  k.family = 4;
  k.protocol = tcp ? 6 : 17;
  k.src[15] = static_cast<std::uint8_t>(m.id);
  k.src_port = m.id;
  k.dst_port = 53;
  if (m.response)
    tracker().response(netring::flow::reversed(k), m, ts);
  else
    tracker().query(k, m, ts);
  tracker().expire(ts);
  for (const Exchange& x : tracker().take()) check(x.name_len <= Message::kMaxName);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static std::uint64_t ts = 0;
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  one(bytes, false, ++ts);
  one(bytes, true, ++ts);
  return 0;
}
