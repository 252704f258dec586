// "host:port" listen addresses (--metrics-listen, --api-listen).
#pragma once

#include <string>
#include <string_view>

#include "pkg/common/error.hpp"

namespace netring::agent::http {

struct ListenAddress {
  std::string host;  // literal address; IPv6 without brackets
  int port = 0;      // 0: any free port (tests)
  bool is_loopback() const;
  std::string str() const;  // "127.0.0.1:9991", "[::1]:9991"
};

// Accepts "A.B.C.D:port", "[v6]:port", ":port" (all IPv4 addresses) and
// "localhost:port"; the host must be a literal address so a typo cannot bind
// somewhere unexpected after a DNS lookup.
Result<ListenAddress> parse_listen_address(std::string_view text);

}  // namespace netring::agent::http
