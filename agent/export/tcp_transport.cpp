// IPFIX over TCP (RFC 7011 section 10.4): messages back to back on one
// connection; a new connection is a new Transport Session, so the templates
// go first on each. Sends block the exporter's thread only (never the
// publisher's), bounded by kIoTimeout: a collector that stops reading
// breaks the session instead of stalling export forever.
//
// What a broken session lost cannot be known exactly (the collector may have
// acknowledged bytes it never read): SIOCOUTQ gives the bytes it had not
// acknowledged, counted as lost. A peer that closed is noticed before the
// next write (POLLRDHUP), so a message is not written into a dead socket.
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "agent/export/resolve.hpp"
#include "agent/export/transport.hpp"
#include "pkg/common/fd.hpp"

namespace netring::agent::exporter {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kIoTimeout{2000};
constexpr std::chrono::milliseconds kMinBackoff{250};
constexpr std::chrono::milliseconds kMaxBackoff{10'000};

class TcpTransport final : public MessageTransport {
 public:
  TcpTransport(std::string host, std::uint16_t port) : host_(std::move(host)), port_(port) {}

  Result<bool> open_session() override {
    if (fd_ && peer_closed()) close_session();
    if (fd_) return false;
    const auto now = Clock::now();
    if (now < retry_at_) return Error::invalid("connect(tcp)", where() + ": reconnecting later (backing off)");
    auto r = connect_now();
    if (!r) {
      backoff_ = std::clamp(backoff_ * 2, kMinBackoff, kMaxBackoff);
      retry_at_ = now + backoff_;
      return std::move(r).take_error();
    }
    backoff_ = kMinBackoff / 2;
    return true;
  }

  Result<void> send(std::span<const std::uint8_t> message) override {
    if (!fd_) return Error::invalid("send(tcp)", where() + ": not connected");
    std::size_t off = 0;
    while (off < message.size()) {
      ssize_t n = ::send(fd_.get(), message.data() + off, message.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        Error e = n < 0 ? Error::from_errno("send(tcp)", where()) : Error::invalid("send(tcp)", where() + ": wrote 0");
        close_session();
        return e;
      }
      off += static_cast<std::size_t>(n);
    }
    return ok();
  }

  bool connected() const override { return fd_.valid(); }

  std::uint64_t take_unacked_lost() override { return std::exchange(unacked_lost_, 0); }

 private:
  std::string where() const { return host_ + ":" + std::to_string(port_); }

  Result<void> connect_now() {
    auto addr = resolve_collector(host_, port_, SOCK_STREAM);
    if (!addr) return std::move(addr).take_error();
    UniqueFd fd(::socket(addr->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return Error::from_errno("socket(SOCK_STREAM)", where());
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr->addr), addr->len) != 0) {
      if (errno != EINPROGRESS) return Error::from_errno("connect(tcp)", where());
      pollfd p{fd.get(), POLLOUT, 0};
      int rc = ::poll(&p, 1, static_cast<int>(kIoTimeout.count()));
      if (rc == 0) return Error(std::string("connect(tcp)"), ETIMEDOUT, where());
      if (rc < 0) return Error::from_errno("poll(connect)", where());
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return Error("connect(tcp)", err, where());
    }
    // Blocking from here, each write bounded by kIoTimeout.
    int flags = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &flags, sizeof flags);
    timeval tv{static_cast<time_t>(kIoTimeout.count() / 1000),
               static_cast<suseconds_t>(kIoTimeout.count() % 1000 * 1000)};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int fl = 0;
    ::ioctl(fd.get(), FIONBIO, &fl);
    fd_ = std::move(fd);
    return ok();
  }

  // The collector closed (or reset) the connection: it sends nothing, so
  // anything readable, a hang-up or an error means the session is over.
  bool peer_closed() const {
    pollfd p{fd_.get(), POLLIN | POLLRDHUP, 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }

  void close_session() {
    int outq = 0;
    if (::ioctl(fd_.get(), SIOCOUTQ, &outq) == 0 && outq > 0) unacked_lost_ += static_cast<std::uint64_t>(outq);
    fd_.reset();  // the next open_session() connects at once; only failed connects back off
  }

  std::string host_;
  std::uint16_t port_;
  UniqueFd fd_;
  Clock::time_point retry_at_{};
  std::chrono::milliseconds backoff_{kMinBackoff / 2};
  std::uint64_t unacked_lost_ = 0;
};

}  // namespace

std::unique_ptr<MessageTransport> make_tcp_transport(std::string host, std::uint16_t port) {
  return std::make_unique<TcpTransport>(std::move(host), port);
}

}  // namespace netring::agent::exporter
