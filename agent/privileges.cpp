#include "agent/privileges.hpp"

#include <linux/capability.h>

#include <cstdint>
#include <fstream>
#include <string>

namespace netring::agent {

std::vector<std::string> missing_capabilities() {
  std::ifstream status("/proc/self/status");
  std::string line;
  std::uint64_t eff = 0;
  while (std::getline(status, line))
    if (line.rfind("CapEff:", 0) == 0) eff = std::stoull(line.substr(7), nullptr, 16);
  std::vector<std::string> missing;
  if (!(eff & (std::uint64_t{1} << CAP_NET_ADMIN))) missing.emplace_back("CAP_NET_ADMIN");
  if (!(eff & (std::uint64_t{1} << CAP_NET_RAW))) missing.emplace_back("CAP_NET_RAW");
  return missing;
}

}  // namespace netring::agent
