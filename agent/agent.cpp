// Minimal run loop: logs the effective configuration and waits for
// SIGTERM/SIGINT. The data path, discovery, Kubernetes metadata, metrics and
// API are started from here by the agent's lifecycle code.
#include "agent/agent.hpp"

#include <signal.h>

#include <cerrno>

#include <nlohmann/json.hpp>

#include "agent/log.hpp"

namespace netring::agent {

int run_agent(const Config& config) {
  log::info("starting",
            {{"version", NETRING_VERSION}, {"node", config.node_name}, {"config", config_to_json(config).dump()}});
  // Block the stop signals and take them synchronously, so no handler runs on
  // an arbitrary thread and threads started later inherit the mask.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  if (pthread_sigmask(SIG_BLOCK, &stop, nullptr) != 0) {
    log::error("pthread_sigmask failed");
    return 1;
  }
  int sig = 0;
  while (sigwait(&stop, &sig) != 0) {
  }
  log::info("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  return 0;
}

}  // namespace netring::agent
