// What the flow exporter is told by the configuration (the --ipfix-* block
// of agent/config.cpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace netring::agent {
struct Config;
}

namespace netring::agent::exporter {

enum class Transport { kUdp, kTcp };
const char* to_string(Transport t);

// Optional parts of a flow record (--ipfix-fields).
struct FieldGroups {
  bool totals = true;      // octetTotalCount, packetTotalCount (the flow's running totals)
  bool interfaces = true;  // ingressInterface, egressInterface, interfaceName
  bool kubernetes = true;  // pod, namespace, workload, kind, node (and service) of both ends
  bool accuracy = true;    // the 99% interval of octetDeltaCount (lowerCILimit, upperCILimit, confidenceLevel)
};

struct ExportOptions {
  std::string host;  // empty: no export
  std::uint16_t port = 4739;
  Transport transport = Transport::kUdp;
  // UDP only (a TCP collector gets the templates once per connection):
  // templates go out again after this long, and after this many messages
  // (0: by time only).
  std::chrono::milliseconds template_refresh{60'000};
  std::uint32_t template_refresh_messages = 0;
  // A flow that goes on is exported this often (its growth since the
  // previous export); 0: only when it ends.
  std::chrono::milliseconds active_interval{60'000};
  std::uint32_t observation_domain = 1;
  // Private Enterprise Number under which the Kubernetes names are sent.
  std::uint32_t enterprise_number = 32473;
  FieldGroups fields;
  // Ended flows waiting for the exporter thread; more are dropped and counted.
  std::size_t queue_size = 65536;
  // Largest message (UDP: one datagram; keep it under the path MTU).
  std::size_t max_message_size = 1400;
};

// The --ipfix-* fields of the agent's configuration.
ExportOptions options_from(const Config& c);

}  // namespace netring::agent::exporter
