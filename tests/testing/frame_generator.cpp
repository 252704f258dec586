#include "tests/testing/frame_generator.hpp"

#include <sched.h>

#include <chrono>
#include <span>
#include <thread>

#include "tests/testing/packet_builder.hpp"
#include "tests/testing/raw_sender.hpp"

namespace netring::testing {

std::vector<std::vector<std::uint8_t>> udp_flow_frames(int flows, int per_flow, std::size_t size) {
  constexpr std::size_t kHeaders = 14 + 20 + 8;
  std::vector<std::vector<std::uint8_t>> out;
  out.reserve(static_cast<std::size_t>(flows) * per_flow);
  for (int k = 0; k < per_flow; ++k)
    for (int i = 0; i < flows; ++i)
      out.push_back(
          PacketBuilder()
              .eth()
              .ipv4("10.0.0.1", "10.0.0.2")
              .udp(static_cast<std::uint16_t>(kGenSportBase + i), static_cast<std::uint16_t>(kGenDportBase + i))
              .payload(size > kHeaders ? size - kHeaders : 0, static_cast<std::uint8_t>(k))
              .build());
  return out;
}

void quiet_ipv6(const Netns& ns) {
  ns.run_ok("sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1");
}

std::size_t send_paced(const Netns& ns, const std::string& ifname, const std::vector<std::vector<std::uint8_t>>& frames,
                       int gap_us) {
  return ns.within([&] {
    RawSender tx(ifname);
    // AF_PACKET picks the TX queue from the sending CPU (packet_pick_tx_queue
    // records cpu % queues), and veth receives on the peer's queue of that
    // number: moving between CPUs spreads the frames over the queues.
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    std::vector<int> cpus;
    if (::sched_getaffinity(0, sizeof allowed, &allowed) == 0)
      for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
    constexpr std::size_t kBatch = 32;
    std::size_t sent = 0;
    for (std::size_t at = 0; at < frames.size(); at += kBatch) {
      if (cpus.size() > 1) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpus[(at / kBatch) % cpus.size()], &one);
        (void)::sched_setaffinity(0, sizeof one, &one);
      }
      const std::size_t n = std::min(kBatch, frames.size() - at);
      sent += tx.send_batch(std::span(frames).subspan(at, n));
      std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
    }
    return sent;
  });
}

}  // namespace netring::testing
