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
#include "pkg/kflow/flow_count_reader.hpp"

namespace netring::agent {

struct AgentOptions {
  datapath::DatapathOptions datapath;
  datapath::CaptureOptions capture;      // the mirror's (or the direct rung's) sources
  std::uint32_t hook_rate = 100;         // the sampler's 1-in-N on every hooked interface
  kflow::FlowMapSizing flow_map_sizing;  // the kernel flow maps' capacity range (--flow-table-size)
  // The workers' table and parser. table.max_flows is --flow-table-size,
  // the flows a group of workers holds together: split it with
  // for_workers() over the mirror's workers, and over each capture port's.
  WorkerOptions worker;
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

// One of `workers` workers sharing `group`'s table size (each at least 1024
// flows): RSS or the mirror's per-CPU queues spread the flows over them.
WorkerOptions for_workers(const WorkerOptions& group, std::size_t workers);

}  // namespace netring::agent
