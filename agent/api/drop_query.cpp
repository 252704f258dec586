#include "agent/api/drop_query.hpp"

#include <algorithm>
#include <cctype>

namespace netring::agent::api {

bool DropQuery::matches(const DropView& d) const {
  if (reason && d.reason != *reason) return false;
  if (where.since_ns && d.time_ns < *where.since_ns) return false;
  const FlowQuery& w = where;
  const bool endpoint_filter = w.from_pod || w.to_pod || w.ns || w.workload || w.ip || w.port || w.protocol;
  if (!d.has_flow) return !endpoint_filter;
  return matches_endpoints(w, d);
}

std::variant<DropQuery, ApiError> parse_drop_query(const httplib::Request& req, const FlowQueryLimits& limits,
                                                   std::uint64_t now_ns) {
  if (auto e = check_parameters(
          req, {"from_pod", "to_pod", "namespace", "workload", "ip", "port", "protocol", "reason", "since", "limit"}))
    return *e;
  DropQuery q;
  if (auto v = param(req, "reason")) {
    std::string r = *v;
    std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return std::toupper(c); });
    if (r.rfind("SKB_DROP_REASON_", 0) == 0) r = r.substr(16);
    const bool word = !r.empty() && r.size() <= 64 && std::all_of(r.begin(), r.end(), [](unsigned char c) {
      return std::isupper(c) || std::isdigit(c) || c == '_';
    });
    if (!word) return ApiError{400, "'" + *v + "' is not a drop reason (e.g. NETFILTER_DROP, NO_SOCKET)", "reason"};
    q.reason =
        r.rfind("REASON_", 0) == 0 ? "reason_" + r.substr(7) : r;  // reason_<n>: a number the kernel has no name for
  }
  // The shared filters, parsed by the flow query's own rules.
  httplib::Request rest = req;
  rest.params.erase("reason");
  auto parsed = parse_flow_query(rest, limits, now_ns);
  if (auto* e = std::get_if<ApiError>(&parsed)) return *e;
  q.where = std::get<FlowQuery>(std::move(parsed));
  return q;
}

DropSelection select_drops(std::span<const DropView> drops, const DropQuery& q) {
  DropSelection sel;
  for (auto it = drops.rbegin(); it != drops.rend(); ++it) {
    if (!q.matches(*it)) continue;
    ++sel.matched;
    if (sel.drops.size() < q.where.limit) sel.drops.push_back(&*it);
  }
  return sel;
}

}  // namespace netring::agent::api
