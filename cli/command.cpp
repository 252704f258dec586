#include "cli/command.hpp"

#include <algorithm>
#include <set>

namespace netring::cli {

std::vector<OptionSpec> common_options() {
  return {
      {"server", 's', true, true, "HOST:PORT",
       "an agent's API; repeat for several (asked at once, answers merged). Default 127.0.0.1:9991, where "
       "`kubectl -n netring port-forward ds/netring 9991` puts one"},
      {"server-file", 0, true, true, "FILE", "agents' API addresses, one a line (# comments)"},
      {"color", 0, true, false, "auto|always|never", "colour (auto: only on a terminal, and not with NO_COLOR set)"},
      {"help", 'h', false, false, "", "this help"},
  };
}

std::string command_help(const CommandInfo& info) {
  std::string out = "Usage: " + info.synopsis + "\n\n" + info.description + "\n\nOptions:\n";
  std::vector<OptionSpec> all = info.options;
  for (auto& o : common_options()) all.push_back(o);
  out += options_help(all);
  if (!info.examples.empty()) out += "\nExamples:\n" + info.examples;
  return out;
}

Common common_from(const Args& args) {
  Common c;
  c.servers = servers_from(args.values("server"), args.values("server-file"));
  ColorMode mode = ColorMode::kAuto;
  if (auto v = args.value("color")) mode = parse_color_mode(*v);
  c.term = Terminal::of_stdout(mode);
  c.pal = Palette::of(c.term.color);
  return c;
}

int report_failures(std::span<const ApiFailure> failures, const std::map<std::string, std::string>& flag_of) {
  if (failures.empty()) return kExitOk;
  std::set<std::string> said, hints;
  bool all_bad_requests = true;
  for (const ApiFailure& f : failures) {
    std::string msg = f.message;
    if (f.kind == FailureKind::kBadRequest) {
      if (!f.parameter.empty()) {
        auto it = flag_of.find(f.parameter);
        msg = (it != flag_of.end() ? it->second : "query parameter '" + f.parameter + "'") + ": " + msg;
      }
    } else {
      all_bad_requests = false;
    }
    if (said.insert(msg).second) print_error(msg);
    if (!f.hint.empty()) hints.insert(f.hint);
  }
  for (const auto& h : hints) std::fprintf(stderr, "%s\n", h.c_str());
  return all_bad_requests ? kExitUsage : kExitFailure;
}

}  // namespace netring::cli
