// An IP prefix ("10.244.3.0/24", "fd00:10:244:3::/64") over IpAddress's
// 128-bit form, for the nodes' spec.podCIDRs and the ranges remote pods are
// looked up in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/ip_address.hpp"

namespace netring::agent::k8s {

class Cidr {
 public:
  static std::optional<Cidr> parse(std::string_view text);
  bool contains(const IpAddress& ip) const;
  std::string str() const;
  // Prefix length in the address's own family (24 for 10.0.0.0/24).
  int bits() const { return base_.is_v4() ? bits_ - 96 : bits_; }
  bool operator==(const Cidr&) const = default;

 private:
  IpAddress base_;  // host bits cleared
  int bits_ = 0;    // over the 128-bit (v4-mapped) form
};

}  // namespace netring::agent::k8s
