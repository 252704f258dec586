// Sends crafted frames out of one interface through an AF_PACKET socket
// (PACKET_QDISC_BYPASS), for capture tests and benchmarks. Create it inside
// the sending namespace (Netns::within); it can be used from any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace netring::testing {

class RawSender {
 public:
  // Throws std::runtime_error when the socket cannot be made. With
  // qdisc_bypass the frames skip the qdisc and also the packet taps of the
  // sending host (dev_direct_xmit never calls dev_queue_xmit_nit): capture
  // them on the peer, or pass false to see them as outgoing locally.
  explicit RawSender(const std::string& ifname, bool qdisc_bypass = true);
  ~RawSender();
  RawSender(const RawSender&) = delete;
  RawSender& operator=(const RawSender&) = delete;
  RawSender(RawSender&& o) noexcept;

  // One frame; false when the kernel refused it (ENOBUFS...).
  bool send(std::span<const std::uint8_t> frame);
  // Up to frames.size() frames with sendmmsg; returns how many left.
  std::size_t send_batch(std::span<const std::vector<std::uint8_t>> frames);

 private:
  int fd_ = -1;
  int ifindex_ = 0;
};

}  // namespace netring::testing
