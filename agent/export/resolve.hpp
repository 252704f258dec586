// Resolves the collector's "host" and port for one socket type (getaddrinfo:
// IP literals and names, IPv4 and IPv6).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "pkg/common/error.hpp"

namespace netring::agent::exporter {

struct SocketAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = 0;
};

Result<SocketAddress> resolve_collector(const std::string& host, std::uint16_t port, int socktype);

}  // namespace netring::agent::exporter
