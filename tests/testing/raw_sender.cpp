#include "tests/testing/raw_sender.hpp"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace netring::testing {

RawSender::RawSender(const std::string& ifname, bool qdisc_bypass) {
  ifindex_ = static_cast<int>(::if_nametoindex(ifname.c_str()));
  if (ifindex_ == 0) throw std::runtime_error("RawSender: no interface " + ifname);
  // Protocol 0: a send-only socket never queues received packets.
  fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("RawSender: socket: ") + std::strerror(errno));
  const int one = 1;
  // Straight to the driver: the qdisc would only add a queue that can drop.
  if (qdisc_bypass) (void)::setsockopt(fd_, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_ifindex = ifindex_;
  addr.sll_protocol = 0;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int e = errno;
    ::close(fd_);
    throw std::runtime_error(std::string("RawSender: bind: ") + std::strerror(e));
  }
}

RawSender::~RawSender() {
  if (fd_ >= 0) ::close(fd_);
}

RawSender::RawSender(RawSender&& o) noexcept : fd_(std::exchange(o.fd_, -1)), ifindex_(o.ifindex_) {}

bool RawSender::send(std::span<const std::uint8_t> frame) {
  return ::send(fd_, frame.data(), frame.size(), 0) == static_cast<ssize_t>(frame.size());
}

std::size_t RawSender::send_batch(std::span<const std::vector<std::uint8_t>> frames) {
  constexpr std::size_t kMax = 64;
  std::size_t sent = 0;
  while (sent < frames.size()) {
    mmsghdr msgs[kMax];
    iovec iov[kMax];
    const std::size_t n = std::min(kMax, frames.size() - sent);
    for (std::size_t i = 0; i < n; ++i) {
      iov[i].iov_base = const_cast<std::uint8_t*>(frames[sent + i].data());
      iov[i].iov_len = frames[sent + i].size();
      msgs[i] = mmsghdr{};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int r = ::sendmmsg(fd_, msgs, static_cast<unsigned>(n), 0);
    if (r <= 0) break;
    sent += static_cast<std::size_t>(r);
  }
  return sent;
}

}  // namespace netring::testing
