// The agent's run loop: everything that happens after the configuration is
// parsed and valid.
#pragma once

#include "agent/config.hpp"

namespace netring::agent {

// Runs the agent until SIGTERM or SIGINT; returns the process exit status.
int run_agent(const Config& config);

}  // namespace netring::agent
