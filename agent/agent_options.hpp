// From the configuration to what each part of the agent is built with: the
// one place a Config field turns into behaviour (run_agent takes these, and
// tests/unit/config_effect_test.cpp checks that every field moves one).
#pragma once

#include <cstdint>

#include "agent/api/api_server.hpp"
#include "agent/capture_ports.hpp"
#include "agent/config.hpp"
#include "agent/discovery/link_classifier.hpp"
#include "agent/http/listen_address.hpp"
#include "agent/metrics/flow_metrics.hpp"
#include "agent/publisher.hpp"
#include "agent/worker.hpp"
#include "pkg/common/error.hpp"
#include "pkg/datapath/datapath.hpp"

namespace netring::agent {

struct AgentOptions {
  datapath::DatapathOptions datapath;
  datapath::CaptureOptions capture;  // the mirror's (or the direct rung's) sources
  std::uint32_t hook_rate = 100;     // the sampler's 1-in-N on every hooked interface
  WorkerOptions worker;              // each mirror worker (the table size is per worker)
  CapturePortsOptions capture_ports;
  bool capture_ports_enabled = false;
  discovery::DiscoveryOptions discovery;
  metrics::FlowMetricsOptions flow_metrics;
  http::ListenAddress metrics_listen;
  api::ApiOptions api;         // audit_log is left to the caller
  PublisherOptions publisher;  // base_status is filled once the data path exists
};

// Errors name the field (a listen address the HTTP layer refuses).
Result<AgentOptions> agent_options(const Config& config);

}  // namespace netring::agent
