// netring-agent: the node agent's entry point.
#include <cstdio>

#include "agent/agent.hpp"
#include "agent/config.hpp"
#include "agent/heap.hpp"
#include "agent/log.hpp"

int main(int argc, char** argv) {
  using namespace netring::agent;
  configure_heap();
  ConfigOutcome parsed = parse_config(argc, argv);
  if (parsed.exit_code >= 0) {
    std::fputs(parsed.out.c_str(), stdout);
    std::fputs(parsed.err.c_str(), stderr);
    return parsed.exit_code;
  }
  const Config& config = parsed.config;
  netring::log::configure(config.log_level, config.log_format);
  if (config.validate) {
    std::fputs("netring-agent: configuration is valid\n", stderr);
    return 0;
  }
  return run_agent(config);
}
