// netring: the command line for netring agents' HTTP API, as `hubble
// observe` is for Hubble's. It asks one or more agents (by default the one
// `kubectl -n netring port-forward ds/netring 9991` forwards) and merges
// their answers. doc/cli.md describes every command.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/interrupt.hpp"

namespace {

using namespace netring::cli;

struct Command {
  const char* name;
  CommandInfo (*info)();
  int (*run)(std::span<const std::string>);
};

constexpr Command kCommands[] = {
    {"observe", observe_info, run_observe}, {"top", top_info, run_top}, {"status", status_info, run_status},
    {"capture", capture_info, run_capture}, {"dns", dns_info, run_dns}, {"drops", drops_info, run_drops},
};

std::string usage() {
  return "Usage: netring <command> [options]\n"
         "\n"
         "Flows, top talkers, status and captures from netring agents, through their HTTP API. By default it\n"
         "asks 127.0.0.1:9991, where this forwards one agent:\n"
         "  kubectl -n netring port-forward ds/netring 9991\n"
         "Several agents: --server HOST:PORT (repeated) or --server-file FILE; they are asked at once and their\n"
         "answers merged. The same port serves a page with a service map: open http://127.0.0.1:9991/\n"
         "\n"
         "Commands:\n"
         "  observe    flows, filtered, newest last; --follow streams them (like hubble observe)\n"
         "  top        the largest talkers by bytes/s (pairs, workloads, namespaces, pods), refreshing\n"
         "  status     each agent's backend, hooks, samples and losses, in words\n"
         "  capture    a pcap file of the sampled packets matching a filter, and what it holds\n"
         "  dns        DNS exchanges: queries, answers, latency, timeouts\n"
         "  drops      packets the kernel dropped, with its reason\n"
         "\n"
         "`netring <command> --help` lists a command's options. Exit status: 0 done, 1 an agent failed or\n"
         "could not be reached, 2 a bad option or a query the agents rejected.\n";
}

}  // namespace

int main(int argc, char** argv) {
  install_interrupt_handlers();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    if (args.size() >= 2 && args[0] == "help") {
      for (const auto& c : kCommands)
        if (args[1] == c.name) {
          emit(command_help(c.info()));
          return kExitOk;
        }
    }
    emit(usage());
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (args[0] == "--version" || args[0] == "version") {
    emit("netring " NETRING_VERSION " (API version " + std::string(kApiVersion) + ")\n");
    return kExitOk;
  }
  for (const auto& c : kCommands) {
    if (args[0] != c.name) continue;
    try {
      return c.run(std::span<const std::string>(args).subspan(1));
    } catch (const UsageError& e) {
      std::fprintf(stderr, "netring %s: %s\nRun 'netring %s --help' for its options.\n", c.name, e.what(), c.name);
      return kExitUsage;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "netring %s: %s\n", c.name, e.what());
      return kExitFailure;
    }
  }
  std::fprintf(stderr, "netring: '%s' is not a command (observe, top, status, capture)\nRun 'netring --help'.\n",
               args[0].c_str());
  return kExitUsage;
}
