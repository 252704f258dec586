// An IPv4 or IPv6 address as a hashable, ordered value, in network byte order.
// IPv4 is held in its IPv4-mapped IPv6 form (::ffff:a.b.c.d), so one map
// serves both families and a v4 flow matches a v4-mapped lookup.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace netring::agent {

class IpAddress {
 public:
  IpAddress() = default;
  // `be` is in network byte order, as in struct in_addr.
  static IpAddress v4(uint32_t be);
  static IpAddress v6(const uint8_t bytes[16]);
  static std::optional<IpAddress> parse(std::string_view text);

  bool is_v4() const;
  uint32_t v4_be() const;  // only when is_v4()
  const std::array<uint8_t, 16>& bytes() const { return b_; }
  std::string str() const;

  bool operator==(const IpAddress&) const = default;
  auto operator<=>(const IpAddress&) const = default;

  size_t hash() const {
    uint64_t lo, hi;
    std::memcpy(&lo, b_.data(), 8);
    std::memcpy(&hi, b_.data() + 8, 8);
    return std::hash<uint64_t>{}(hi * 0x9e3779b97f4a7c15ULL ^ lo);
  }

 private:
  std::array<uint8_t, 16> b_{};
};

struct IpAddressHash {
  size_t operator()(const IpAddress& a) const { return a.hash(); }
};

}  // namespace netring::agent
