#include "agent/api/flow_query.hpp"

#include <algorithm>

namespace netring::agent::api {
namespace {

// Splits "ns/name" (or "name") into its parts; empty parts are an error.
bool split_ns_name(const std::string& text, std::optional<std::string>& ns, std::optional<std::string>& name) {
  auto slash = text.find('/');
  if (slash == std::string::npos) {
    if (text.empty()) return false;
    name = text;
    return true;
  }
  if (slash == 0 || slash + 1 == text.size() || text.find('/', slash + 1) != std::string::npos) return false;
  ns = text.substr(0, slash);
  name = text.substr(slash + 1);
  return true;
}

double key_of(const FlowView& f, FlowSort s) {
  switch (s) {
    case FlowSort::kBytes: return f.bytes;
    case FlowSort::kPackets: return f.packets;
    case FlowSort::kLastSeen: break;
  }
  return static_cast<double>(f.last_seen_ns);
}

}  // namespace

bool FlowQuery::matches(const FlowView& f) const {
  if (!matches_endpoints(*this, f)) return false;
  if (direction && f.direction != *direction) return false;
  if (reporter && f.reporter != *reporter) return false;
  if (since_ns && f.last_seen_ns < *since_ns) return false;
  return true;
}

std::variant<FlowQuery, ApiError> parse_flow_query(const httplib::Request& req, const FlowQueryLimits& limits,
                                                   std::uint64_t now_ns) {
  if (auto e = check_parameters(req, {"from_pod", "to_pod", "namespace", "workload", "ip", "port", "protocol",
                                      "direction", "reporter", "since", "sort", "limit", "follow"}))
    return *e;
  return parse_flow_filters(req, limits, now_ns);
}

std::variant<FlowQuery, ApiError> parse_flow_filters(const httplib::Request& req, const FlowQueryLimits& limits,
                                                     std::uint64_t now_ns) {
  FlowQuery q;
  q.limit = limits.default_limit;
  if (auto v = param(req, "from_pod"); v && !split_ns_name(*v, q.from_pod_ns, q.from_pod))
    return ApiError{400, "'" + *v + "' is not a pod (expected name or namespace/name)", "from_pod"};
  if (auto v = param(req, "to_pod"); v && !split_ns_name(*v, q.to_pod_ns, q.to_pod))
    return ApiError{400, "'" + *v + "' is not a pod (expected name or namespace/name)", "to_pod"};
  if (auto v = param(req, "namespace")) {
    if (v->empty() || v->find('/') != std::string::npos)
      return ApiError{400, "'" + *v + "' is not a namespace name", "namespace"};
    q.ns = *v;
  }
  if (auto v = param(req, "workload"); v && !split_ns_name(*v, q.workload_ns, q.workload))
    return ApiError{400, "'" + *v + "' is not a workload (expected name or namespace/name)", "workload"};
  if (auto v = param(req, "ip")) {
    q.ip = IpAddress::parse(*v);
    if (!q.ip) return ApiError{400, "'" + *v + "' is not an IPv4 or IPv6 address", "ip"};
  }
  if (auto v = param(req, "port")) {
    std::uint64_t p = 0;
    if (auto e = parse_count("port", *v, 0, 65535, p)) return *e;
    q.port = static_cast<std::uint16_t>(p);
  }
  if (auto v = param(req, "protocol")) {
    q.protocol = parse_protocol(*v);
    if (!q.protocol)
      return ApiError{400, "'" + *v + "' is not a protocol (tcp, udp, icmp, icmpv6, sctp or 0..255)", "protocol"};
  }
  if (auto v = param(req, "direction")) {
    if (*v == "ingress")
      q.direction = FlowDirection::kIngress;
    else if (*v == "egress")
      q.direction = FlowDirection::kEgress;
    else
      return ApiError{400, "'" + *v + "' is not a direction (ingress|egress)", "direction"};
  }
  if (auto v = param(req, "reporter")) {
    if (*v == "source")
      q.reporter = Reporter::kSource;
    else if (*v == "destination")
      q.reporter = Reporter::kDestination;
    else if (*v == "capture")
      q.reporter = Reporter::kCapture;
    else
      return ApiError{400, "'" + *v + "' is not a reporter (source|destination|capture)", "reporter"};
  }
  if (auto v = param(req, "since")) {
    q.since_ns = parse_since(*v, now_ns);
    if (!q.since_ns)
      return ApiError{400, "'" + *v + "' is neither a duration (30s, 5m, 1h) nor an RFC 3339 UTC time", "since"};
  }
  if (auto v = param(req, "sort")) {
    q.sort_given = true;
    if (*v == "bytes")
      q.sort = FlowSort::kBytes;
    else if (*v == "packets")
      q.sort = FlowSort::kPackets;
    else if (*v == "last_seen")
      q.sort = FlowSort::kLastSeen;
    else
      return ApiError{400, "'" + *v + "' is not a sort key (bytes|packets|last_seen)", "sort"};
  }
  if (auto v = param(req, "follow")) {
    if (auto e = parse_bool("follow", *v, q.follow)) return *e;
  }
  if (auto v = param(req, "limit")) {
    // A follow stream may skip the flows of the moment: only what changes.
    std::uint64_t n = 0;
    if (auto e = parse_count("limit", *v, q.follow ? 0 : 1, limits.max_limit, n)) {
      if (!q.follow && *v == "0") e->message += " (0 only with follow=true: no flows of the moment, only changes)";
      return *e;
    }
    q.limit = n;
  }
  if (q.follow && q.sort_given)
    return ApiError{400, "sort does not apply to follow=true (flows stream in the order they change)", "sort"};
  return q;
}

FlowSelection select_flows(std::span<const FlowView> flows, const FlowQuery& q) {
  FlowSelection sel;
  for (const FlowView& f : flows)
    if (q.matches(f)) sel.flows.push_back(&f);
  sel.matched = sel.flows.size();
  auto before = [&](const FlowView* a, const FlowView* b) {
    double ka = key_of(*a, q.sort), kb = key_of(*b, q.sort);
    if (ka != kb) return ka > kb;
    if (a->last_seen_ns != b->last_seen_ns) return a->last_seen_ns > b->last_seen_ns;
    return a->id < b->id;
  };
  if (sel.flows.size() > q.limit) {
    std::partial_sort(sel.flows.begin(), sel.flows.begin() + static_cast<std::ptrdiff_t>(q.limit), sel.flows.end(),
                      before);
    sel.flows.resize(q.limit);
  } else {
    std::sort(sel.flows.begin(), sel.flows.end(), before);
  }
  return sel;
}

}  // namespace netring::agent::api
