#include "agent/api/host_guard.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <string>

namespace netring::agent::api {

bool host_header_allowed(std::string_view host) {
  if (host.empty()) return true;
  std::string name;
  if (host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string_view::npos) return false;
    std::string_view rest = host.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    name = std::string(host.substr(1, close - 1));
    in6_addr a6{};
    return inet_pton(AF_INET6, name.c_str(), &a6) == 1;
  }
  auto colon = host.rfind(':');
  name = std::string(host.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  if (!name.empty() && name.back() == '.') name.pop_back();  // "localhost." is the same name
  if (name == "localhost") return true;
  constexpr std::string_view kLocal = ".localhost";
  if (name.size() > kLocal.size() && name.compare(name.size() - kLocal.size(), kLocal.size(), kLocal) == 0) return true;
  in_addr a4{};
  return inet_pton(AF_INET, name.c_str(), &a4) == 1;
}

}  // namespace netring::agent::api
