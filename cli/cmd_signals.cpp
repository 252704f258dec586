// netring dns, netring drops: DNS queries and answers, and packets the
// kernel dropped, per pod. The agents serve drops at /api/v1/drops
// (doc/api.md) but this command line does not show them yet, and DNS not at
// all yet: each command says which, instead of guessing at an answer. Each
// is to become a command like observe: its filters passed through as query
// parameters, a table (flow_table.hpp's pattern), -o json and --follow over
// the same fan-out (command.hpp).
#include "cli/commands.hpp"

namespace netring::cli {
namespace {

CommandInfo pending(const std::string& name, const std::string& what, const std::string& endpoint, bool served) {
  CommandInfo i;
  i.name = name;
  i.synopsis = "netring " + name;
  i.description = served ? what + ": not shown by this command line yet; the agents serve them at " + endpoint +
                               " (curl it through kubectl port-forward, doc/api.md)."
                         : what + ": not served by the agents' API yet (no " + endpoint +
                               "); this command will show them once the agents do.";
  return i;
}

int run_pending(const CommandInfo& info, std::span<const std::string> argv) {
  std::vector<OptionSpec> specs = common_options();
  Args args = Args::parse(argv, specs);
  if (args.has("help")) {
    emit(command_help(info));
    return kExitOk;
  }
  print_error(info.name + ": " + info.description);
  return kExitFailure;
}

}  // namespace

CommandInfo dns_info() {
  return pending("dns", "DNS queries and answers by pod", "/api/v1/dns", false);
}
int run_dns(std::span<const std::string> argv) {
  return run_pending(dns_info(), argv);
}
CommandInfo drops_info() {
  return pending("drops", "packets the kernel dropped, by pod and reason", "/api/v1/drops", true);
}
int run_drops(std::span<const std::string> argv) {
  return run_pending(drops_info(), argv);
}

}  // namespace netring::cli
