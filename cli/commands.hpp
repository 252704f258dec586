// The subcommands of netring; each takes the arguments after its name.
#pragma once

#include <span>
#include <string>

#include "cli/command.hpp"

namespace netring::cli {

CommandInfo observe_info();
int run_observe(std::span<const std::string> argv);
CommandInfo top_info();
int run_top(std::span<const std::string> argv);
CommandInfo status_info();
int run_status(std::span<const std::string> argv);
CommandInfo capture_info();
int run_capture(std::span<const std::string> argv);
// DNS exchanges and kernel drops (cmd_dns.cpp, cmd_drops.cpp).
CommandInfo dns_info();
int run_dns(std::span<const std::string> argv);
CommandInfo drops_info();
int run_drops(std::span<const std::string> argv);

}  // namespace netring::cli
