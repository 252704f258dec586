// GET /api/v1/flows: filters, sort and limit, parsed from the query string
// and applied to a snapshot.
#pragma once

#include <httplib.h>

#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "agent/api/api_error.hpp"
#include "agent/model.hpp"

namespace netring::agent::api {

enum class FlowSort : std::uint8_t { kLastSeen, kBytes, kPackets };

struct FlowQuery {
  // "ns/pod" or "pod" (any namespace); "ns/workload" or "workload".
  std::optional<std::string> from_pod_ns, from_pod, to_pod_ns, to_pod;
  std::optional<std::string> ns;                     // either end
  std::optional<std::string> workload_ns, workload;  // either end
  std::optional<IpAddress> ip;                       // either end
  std::optional<std::uint16_t> port;                 // either end
  std::optional<std::uint8_t> protocol;
  std::optional<FlowDirection> direction;
  std::optional<Reporter> reporter;
  std::optional<std::uint64_t> since_ns;  // last_seen >= since
  FlowSort sort = FlowSort::kLastSeen;
  bool sort_given = false;
  std::size_t limit = 100;
  bool follow = false;

  bool matches(const FlowView& f) const;
};

struct FlowQueryLimits {
  std::size_t default_limit = 100;
  std::size_t max_limit = 10000;
};

// Parses and validates every parameter; the error names the first bad one.
std::variant<FlowQuery, ApiError> parse_flow_query(const httplib::Request& req, const FlowQueryLimits& limits,
                                                   std::uint64_t now_ns);

// The same without the check for unknown parameters: for queries that take
// these filters and more (/api/v1/dns), which check their own list first.
std::variant<FlowQuery, ApiError> parse_flow_filters(const httplib::Request& req, const FlowQueryLimits& limits,
                                                     std::uint64_t now_ns);

struct FlowSelection {
  std::vector<const FlowView*> flows;  // sorted, at most limit
  std::size_t matched = 0;             // before the limit
};
// Sorted descending by the sort key (ties: newer last_seen first, then id).
FlowSelection select_flows(std::span<const FlowView> flows, const FlowQuery& q);

}  // namespace netring::agent::api
