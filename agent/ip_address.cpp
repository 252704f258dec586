#include "agent/ip_address.hpp"

#include <arpa/inet.h>

namespace netring::agent {

IpAddress IpAddress::v4(uint32_t be) {
  IpAddress a;
  a.b_[10] = 0xff;
  a.b_[11] = 0xff;
  std::memcpy(a.b_.data() + 12, &be, 4);
  return a;
}

IpAddress IpAddress::v6(const uint8_t bytes[16]) {
  IpAddress a;
  std::memcpy(a.b_.data(), bytes, 16);
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN + 1];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  in_addr a4;
  if (inet_pton(AF_INET, buf, &a4) == 1) return v4(a4.s_addr);
  in6_addr a6;
  if (inet_pton(AF_INET6, buf, &a6) == 1) return v6(a6.s6_addr);
  return std::nullopt;
}

bool IpAddress::is_v4() const {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(b_.data(), kPrefix, 12) == 0;
}

uint32_t IpAddress::v4_be() const {
  uint32_t be;
  std::memcpy(&be, b_.data() + 12, 4);
  return be;
}

std::string IpAddress::str() const {
  char buf[INET6_ADDRSTRLEN];
  if (is_v4()) {
    in_addr a4{v4_be()};
    inet_ntop(AF_INET, &a4, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, b_.data(), buf, sizeof buf);
  }
  return buf;
}

}  // namespace netring::agent
