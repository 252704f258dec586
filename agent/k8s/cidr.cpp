#include "agent/k8s/cidr.hpp"

#include <algorithm>
#include <charconv>

namespace netring::agent::k8s {

std::optional<Cidr> Cidr::parse(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto ip = IpAddress::parse(text.substr(0, slash));
  if (!ip) return std::nullopt;
  std::string_view len = text.substr(slash + 1);
  int n = 0;
  auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), n);
  if (ec != std::errc() || p != len.data() + len.size() || len.empty()) return std::nullopt;
  if (n < 0 || n > (ip->is_v4() ? 32 : 128)) return std::nullopt;
  Cidr c;
  c.bits_ = ip->is_v4() ? n + 96 : n;
  auto bytes = ip->bytes();
  for (int i = 0; i < 16; ++i) {
    int keep = std::clamp(c.bits_ - 8 * i, 0, 8);
    bytes[i] &= static_cast<uint8_t>(0xff00 >> keep);
  }
  c.base_ = IpAddress::v6(bytes.data());
  return c;
}

bool Cidr::contains(const IpAddress& ip) const {
  const auto& a = ip.bytes();
  const auto& b = base_.bytes();
  for (int i = 0; i < 16; ++i) {
    int keep = std::clamp(bits_ - 8 * i, 0, 8);
    if (keep == 0) return true;
    auto mask = static_cast<uint8_t>(0xff00 >> keep);
    if ((a[i] & mask) != b[i]) return false;
  }
  return true;
}

std::string Cidr::str() const {
  return base_.str() + "/" + std::to_string(bits());
}

}  // namespace netring::agent::k8s
