#include "tests/testing/capture_helpers.hpp"

#include <time.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "tests/testing/packet_builder.hpp"

namespace netring::testing {
namespace {
constexpr std::uint8_t kSrcMac[6] = {0x02, 0, 0, 0, 0, 1};
constexpr std::size_t kPayloadOffset = 14 + 20 + 8;
}  // namespace

std::uint64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::vector<std::uint8_t> numbered_frame(std::uint32_t number, std::size_t payload, std::uint32_t flow) {
  std::vector<std::uint8_t> p(std::max<std::size_t>(payload, 8), 0x5a);
  std::memcpy(p.data(), &number, sizeof(number));
  std::memcpy(p.data() + 4, &flow, sizeof(flow));
  return PacketBuilder()
      .eth()
      .ipv4("10.77.0.1", "10.77.0.2")
      .udp(static_cast<std::uint16_t>(1000 + flow), 9)
      .payload(p)
      .build();
}

bool parse_numbered(const std::byte* data, std::uint32_t len, std::uint32_t& number, std::uint32_t& flow) {
  if (len < kPayloadOffset + 8 || std::memcmp(data + 6, kSrcMac, 6) != 0) return false;
  std::memcpy(&number, data + kPayloadOffset, 4);
  std::memcpy(&flow, data + kPayloadOffset + 4, 4);
  return true;
}

std::vector<std::vector<Captured>> drain(std::span<packet::PacketSocket* const> socks, std::size_t want,
                                         std::chrono::seconds deadline) {
  std::vector<std::vector<Captured>> got(socks.size());
  std::size_t total = 0;
  packet::RingPacket batch[64];
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (total < want && std::chrono::steady_clock::now() < end) {
    bool any = false;
    for (std::size_t s = 0; s < socks.size(); ++s) {
      std::size_t n;
      while ((n = socks[s]->ring().next_batch(batch)) > 0) {
        any = true;
        for (std::size_t i = 0; i < n; ++i) {
          std::uint32_t num, flow;
          if (!parse_numbered(batch[i].data, batch[i].snaplen, num, flow)) continue;
          const auto* d = reinterpret_cast<const std::uint8_t*>(batch[i].data);
          got[s].push_back({std::vector<std::uint8_t>(d, d + batch[i].snaplen), batch[i]});
          ++total;
        }
        socks[s]->ring().release();
      }
    }
    if (!any) (void)socks[0]->wait(socks.size() == 1 ? 100 : 10);
  }
  return got;
}

std::vector<Captured> drain(packet::PacketSocket& s, std::size_t want, std::chrono::seconds deadline) {
  packet::PacketSocket* one[] = {&s};
  return std::move(drain(one, want, deadline)[0]);
}

packet::PacketSocket open_packet_socket(const Netns& ns, packet::SocketOptions opts) {
  return ns.within([&] {
    auto s = packet::PacketSocket::create(opts);
    if (!s) throw std::runtime_error(s.error().message());
    auto st = s->start();
    if (!st) throw std::runtime_error(st.error().message());
    return std::move(*s);
  });
}

void disable_ipv6(const Netns& ns) {
  ns.run_ok("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
}

}  // namespace netring::testing
