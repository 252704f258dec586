#include "cli/server_address.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>

#include "cli/args.hpp"

namespace netring::cli {

std::string ServerAddress::text() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<ServerAddress> parse_server_address(const std::string& text, std::string& why) {
  std::string s = text;
  if (s.rfind("http://", 0) == 0) s.erase(0, 7);
  if (s.rfind("https://", 0) == 0) {
    why = "the agent's API speaks plain HTTP (behind kubectl port-forward), not https";
    return std::nullopt;
  }
  while (!s.empty() && s.back() == '/') s.pop_back();
  ServerAddress a;
  std::string port_text;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string::npos) {
      why = "unclosed '[' (an IPv6 address is written [addr]:port)";
      return std::nullopt;
    }
    a.host = s.substr(1, close - 1);
    std::string rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        why = "expected :port after ]";
        return std::nullopt;
      }
      port_text = rest.substr(1);
      if (port_text.empty()) {
        why = "empty port";
        return std::nullopt;
      }
    }
  } else {
    auto colon = s.find(':');
    if (colon != std::string::npos && s.find(':', colon + 1) != std::string::npos) {
      why = "an IPv6 address needs brackets: [addr]:port";
      return std::nullopt;
    }
    a.host = s.substr(0, colon);
    if (colon != std::string::npos) {
      port_text = s.substr(colon + 1);
      if (port_text.empty()) {
        why = "empty port";
        return std::nullopt;
      }
    }
  }
  if (a.host.empty()) {
    why = "no host";
    return std::nullopt;
  }
  if (!port_text.empty()) {
    int p = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || p < 1 || p > 65535) {
      why = "'" + port_text + "' is not a port (1..65535)";
      return std::nullopt;
    }
    a.port = p;
  }
  return a;
}

std::vector<ServerAddress> servers_from(const std::vector<std::string>& servers,
                                        const std::vector<std::string>& server_files) {
  std::vector<ServerAddress> out;
  auto add = [&](const ServerAddress& a) {
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  };
  for (const auto& s : servers) {
    std::string why;
    auto a = parse_server_address(s, why);
    if (!a) throw UsageError("--server '" + s + "': " + why);
    add(*a);
  }
  for (const auto& path : server_files) {
    std::ifstream in(path);
    if (!in) throw UsageError("--server-file '" + path + "': cannot read it: " + std::strerror(errno));
    std::string line;
    int n = 0, found = 0;
    while (std::getline(in, line)) {
      ++n;
      if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
      auto b = line.find_first_not_of(" \t\r");
      if (b == std::string::npos) continue;
      auto e = line.find_last_not_of(" \t\r");
      std::string entry = line.substr(b, e - b + 1);
      std::string why;
      auto a = parse_server_address(entry, why);
      if (!a) throw UsageError("--server-file '" + path + "' line " + std::to_string(n) + ": '" + entry + "': " + why);
      add(*a);
      ++found;
    }
    if (found == 0) throw UsageError("--server-file '" + path + "': no server in it");
  }
  if (out.empty()) {
    std::string why;
    out.push_back(*parse_server_address(kDefaultServer, why));
  }
  return out;
}

}  // namespace netring::cli
