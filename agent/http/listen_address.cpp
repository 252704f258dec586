#include "agent/http/listen_address.hpp"

#include <arpa/inet.h>

#include <charconv>

#include "agent/ip_address.hpp"

namespace netring::agent::http {
namespace {

// IPv4 text never has a colon and IPv6 text always has one.
bool is_v6_text(std::string_view host) {
  return host.find(':') != std::string_view::npos;
}

}  // namespace

bool ListenAddress::is_loopback() const {
  auto ip = IpAddress::parse(host);
  if (!ip) return false;
  // IpAddress folds ::ffff:a.b.c.d into IPv4; an address written as IPv6 text
  // binds an IPv6 socket, where only ::1 is loopback.
  if (is_v6_text(host)) return ip->bytes() == IpAddress::parse("::1")->bytes();
  return ip->bytes()[12] == 127;
}

std::string ListenAddress::str() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<ListenAddress> parse_listen_address(std::string_view text) {
  const std::string what(text);
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return Error::invalid("parse listen address", "'" + what + "': expected host:port, e.g. 127.0.0.1:9991");
  std::string_view host = text.substr(0, colon), port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    auto ip = IpAddress::parse(host);
    if (!ip || !is_v6_text(host))
      return Error::invalid("parse listen address", "'" + what + "': not an IPv6 address in brackets");
  } else if (host.empty()) {
    host = "0.0.0.0";
  } else if (host == "localhost") {
    host = "127.0.0.1";
  } else {
    auto ip = IpAddress::parse(host);
    if (!ip || is_v6_text(host))
      return Error::invalid("parse listen address",
                            "'" + what + "': host must be an IPv4 address, [IPv6] or localhost");
  }
  int p = -1;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || p < 0 || p > 65535)
    return Error::invalid("parse listen address", "'" + what + "': port must be 0..65535");
  return ListenAddress{std::string(host), p};
}

}  // namespace netring::agent::http
