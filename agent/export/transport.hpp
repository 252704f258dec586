// Where IPFIX messages go: a UDP socket connected to the collector, or a TCP
// connection to it (RFC 7011 section 10). Both resolve the collector's name
// when they open a session, so a collector that was not resolvable or not
// up at start is reached once it is.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "agent/export/export_options.hpp"
#include "pkg/common/error.hpp"

namespace netring::agent::exporter {

class MessageTransport {
 public:
  virtual ~MessageTransport() = default;

  // Makes sure there is a session to send on. true: a new one began (a TCP
  // connection: the templates must go before any data record). An error:
  // none can be had now (the name does not resolve, the connection is
  // refused, or a reconnection is backing off).
  virtual Result<bool> open_session() = 0;
  // Sends one message whole. An error: it did not go out; a TCP session is
  // then closed and the next open_session() starts a new one.
  virtual Result<void> send(std::span<const std::uint8_t> message) = 0;
  virtual bool connected() const = 0;
  // TCP: bytes that were written but that the collector had not
  // acknowledged when the session broke (they are lost); reset to 0.
  virtual std::uint64_t take_unacked_lost() { return 0; }
  // UDP: how often a send reported ECONNREFUSED (an earlier datagram met
  // nobody listening) since the last call; reset to 0.
  virtual std::uint64_t take_refusals() { return 0; }
};

std::unique_ptr<MessageTransport> make_udp_transport(std::string host, std::uint16_t port);
std::unique_ptr<MessageTransport> make_tcp_transport(std::string host, std::uint16_t port);
std::unique_ptr<MessageTransport> make_transport(const ExportOptions& opts);

}  // namespace netring::agent::exporter
