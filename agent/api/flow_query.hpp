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

// The filters a flow shares with other records of two endpoints (a drop):
// pods, namespace, workload, address, port, protocol.
template <class V>
bool matches_endpoints(const FlowQuery& q, const V& v) {
  if (q.from_pod && (v.src_id->pod != *q.from_pod || (q.from_pod_ns && v.src_id->ns != *q.from_pod_ns))) return false;
  if (q.to_pod && (v.dst_id->pod != *q.to_pod || (q.to_pod_ns && v.dst_id->ns != *q.to_pod_ns))) return false;
  if (q.ns && v.src_id->ns != *q.ns && v.dst_id->ns != *q.ns) return false;
  if (q.workload) {
    auto side = [&](const Identity& id) {
      return id.workload == *q.workload && (!q.workload_ns || id.ns == *q.workload_ns);
    };
    if (!side(v.src_id) && !side(v.dst_id)) return false;
  }
  if (q.ip && v.src != *q.ip && v.dst != *q.ip) return false;
  if (q.port && v.src_port != *q.port && v.dst_port != *q.port) return false;
  if (q.protocol && v.protocol != *q.protocol) return false;
  return true;
}

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
