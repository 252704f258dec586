#include "pkg/flow/key.hpp"

#include <arpa/inet.h>

namespace netring::flow {

std::string to_string(const Address& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a.data(), kMapped, 12) == 0) {
    inet_ntop(AF_INET, &a[12], buf, sizeof(buf));
  } else {
    inet_ntop(AF_INET6, a.data(), buf, sizeof(buf));
  }
  return buf;
}

std::string to_string(const FlowKey& k) {
  std::string s = "proto " + std::to_string(k.protocol) + " " + to_string(k.src) + ":" + std::to_string(k.src_port) +
                  " -> " + to_string(k.dst) + ":" + std::to_string(k.dst_port);
  if (k.tunnel != Tunnel::kNone)
    s += (k.tunnel == Tunnel::kVxlan ? " vxlan vni " : " geneve vni ") + std::to_string(k.vni);
  return s;
}

}  // namespace netring::flow
