#include "tests/testing/mirror_reader.hpp"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>

namespace netring::testing {
namespace {

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

}  // namespace

MirrorReader::MirrorReader(int far_ifindex) {
  fd_.reset(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
  if (!fd_) return;
  int rcvbuf = 32 << 20;
  ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = far_ifindex;
  if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) {
    fd_.reset();
    return;
  }
  last_rx_ns_ = now_ns();
  thread_ = std::thread([this] { loop(); });
}

MirrorReader::~MirrorReader() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void MirrorReader::loop() {
  std::vector<std::uint8_t> buf(65536);
  while (!stop_) {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    while (read_one(buf)) {
    }
  }
  // A starved thread may have left frames queued: take them all.
  while (read_one(buf)) {
  }
}

bool MirrorReader::read_one(std::vector<std::uint8_t>& buf) {
  {
    const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n <= 0) return false;
    last_rx_ns_ = now_ns();
    netring::datapath::Sample s;
    auto st = netring::datapath::decode_sample(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(buf.data()), static_cast<std::size_t>(n)), s);
    if (st != netring::datapath::DecodeStatus::kOk) {
      ++not_samples_;
      return true;
    }
    const auto* f = reinterpret_cast<const std::uint8_t*>(s.frame.data());
    std::lock_guard lock(mu_);
    seq_.observe(s.info.cpu, s.info.seq);
    samples_.push_back({s.info, std::vector<std::uint8_t>(f, f + s.frame.size())});
  }
  return true;
}

void MirrorReader::drain(int quiet_ms) {
  const auto quiet = static_cast<std::uint64_t>(quiet_ms) * 1'000'000ULL;
  const auto deadline = now_ns() + 30'000'000'000ULL;
  while (now_ns() - last_rx_ns_.load() < quiet && now_ns() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::vector<CapturedSample> MirrorReader::samples() const {
  std::lock_guard lock(mu_);
  return samples_;
}

std::uint64_t MirrorReader::socket_drops() {
  tpacket_stats st{};
  socklen_t len = sizeof st;
  // Reading resets the kernel's counters: keep the running total here.
  if (fd_ && ::getsockopt(fd_.get(), SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) drops_ += st.tp_drops;
  return drops_;
}

int icmp_type(const std::vector<std::uint8_t>& f) {
  if (f.size() < 14 + 20 + 8 || f[12] != 0x08 || f[13] != 0x00 || f[14 + 9] != 1) return -1;
  const std::size_t ihl = (f[14] & 0x0f) * 4u;
  if (f.size() < 14 + ihl + 8) return -1;
  return f[14 + ihl];
}

int icmp_seq(const std::vector<std::uint8_t>& f) {
  if (icmp_type(f) < 0) return -1;
  const std::size_t off = 14 + (f[14] & 0x0f) * 4u + 6;
  return (f[off] << 8) | f[off + 1];
}

}  // namespace netring::testing
