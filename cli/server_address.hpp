// Where the agents' API answers: --server HOST:PORT (repeatable) and
// --server-file FILE (one address a line, # comments), by default the port
// `kubectl port-forward` opens on this machine.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace netring::cli {

inline constexpr int kDefaultApiPort = 9991;
inline constexpr const char* kDefaultServer = "127.0.0.1:9991";

struct ServerAddress {
  std::string host;  // name or address (IPv6 without brackets)
  int port = kDefaultApiPort;

  std::string text() const;  // host:port, [v6]:port
  bool operator==(const ServerAddress&) const = default;
};

// "host", "host:port", "[v6]", "[v6]:port", optionally after "http://";
// nullopt with `why` set on a malformed one.
std::optional<ServerAddress> parse_server_address(const std::string& text, std::string& why);

// The servers to ask: every --server, then every address in each
// --server-file, duplicates removed, in order; the default when none is
// given. Throws UsageError naming the option (and file and line).
std::vector<ServerAddress> servers_from(const std::vector<std::string>& servers,
                                        const std::vector<std::string>& server_files);

}  // namespace netring::cli
