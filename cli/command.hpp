// What every netring subcommand shares: the options naming the agents and
// the output, asking all agents at once, and turning failures into messages
// and an exit status (0 fine, 1 an agent failed or could not be reached, 2 a
// bad option or a query the API rejected).
#pragma once

#include <functional>
#include <map>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "cli/api_client.hpp"
#include "cli/args.hpp"
#include "cli/output.hpp"
#include "cli/server_address.hpp"
#include "cli/terminal.hpp"

namespace netring::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct CommandInfo {
  std::string name;
  std::string synopsis;     // "netring observe [options]"
  std::string description;  // a paragraph
  std::vector<OptionSpec> options;
  std::string examples;
  std::size_t positional_max = 0;
};

// --server, --server-file, --color, --help.
std::vector<OptionSpec> common_options();
std::string command_help(const CommandInfo& info);

struct Common {
  std::vector<ServerAddress> servers;
  Terminal term;
  Palette pal;
};
Common common_from(const Args& args);

// Runs fn(client) for every server, several at a time; results in the order
// of `servers`.
template <class R>
std::vector<R> for_each_server(const std::vector<ServerAddress>& servers, const std::function<R(ApiClient&)>& fn) {
  std::vector<R> out(servers.size());
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < servers.size();) {
      ApiClient c(servers[i]);
      out[i] = fn(c);
    }
  };
  std::size_t n = std::min<std::size_t>(servers.size(), 16);
  std::vector<std::thread> threads;
  for (std::size_t t = 1; t < n; ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  return out;
}

// Prints each failure once ("netring: ..."), the API's parameter names as
// the command's options (`flag_of`), and each hint once; returns the exit
// status they call for (2 when every failure is a rejected query).
int report_failures(std::span<const ApiFailure> failures, const std::map<std::string, std::string>& flag_of = {});

}  // namespace netring::cli
