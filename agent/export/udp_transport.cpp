// IPFIX over UDP (RFC 7011 section 10.3): one message per datagram, on a
// connected socket, so that a collector that is down on a reachable host
// shows up as ECONNREFUSED instead of vanishing silently. The kernel reports
// the ICMP port unreachable that an earlier datagram met on the next send
// and fails that send without sending it; the error concerns the earlier
// datagram, so this one is sent again at once (a collector that came back
// meanwhile gets it) and the refusal is counted for the exporter.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "agent/export/resolve.hpp"
#include "agent/export/transport.hpp"
#include "pkg/common/fd.hpp"

namespace netring::agent::exporter {

namespace {

class UdpTransport final : public MessageTransport {
 public:
  UdpTransport(std::string host, std::uint16_t port) : host_(std::move(host)), port_(port) {}

  Result<bool> open_session() override {
    if (fd_) return false;
    auto addr = resolve_collector(host_, port_, SOCK_DGRAM);
    if (!addr) return std::move(addr).take_error();
    UniqueFd fd(::socket(addr->family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) return Error::from_errno("socket(SOCK_DGRAM)", host_);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr->addr), addr->len) != 0)
      return Error::from_errno("connect(udp)", host_ + ":" + std::to_string(port_));
    fd_ = std::move(fd);
    return true;  // a UDP "session" needs nothing first, but the templates are due anyway
  }

  Result<void> send(std::span<const std::uint8_t> message) override {
    if (!fd_) return Error::invalid("send(udp)", "no socket");
    ssize_t n = ::send(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == ECONNREFUSED) {
      ++refusals_;
      n = ::send(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    if (n < 0) return Error::from_errno("send(udp)", host_ + ":" + std::to_string(port_));
    if (static_cast<std::size_t>(n) != message.size()) return Error::invalid("send(udp)", "short datagram");
    return ok();
  }

  bool connected() const override { return fd_.valid(); }
  std::uint64_t take_refusals() override { return std::exchange(refusals_, 0); }

 private:
  std::string host_;
  std::uint16_t port_;
  UniqueFd fd_;
  std::uint64_t refusals_ = 0;
};

}  // namespace

std::unique_ptr<MessageTransport> make_udp_transport(std::string host, std::uint16_t port) {
  return std::make_unique<UdpTransport>(std::move(host), port);
}

std::unique_ptr<MessageTransport> make_transport(const ExportOptions& opts) {
  if (opts.transport == Transport::kTcp) return make_tcp_transport(opts.host, opts.port);
  return make_udp_transport(opts.host, opts.port);
}

const char* to_string(Transport t) {
  return t == Transport::kTcp ? "tcp" : "udp";
}

}  // namespace netring::agent::exporter
