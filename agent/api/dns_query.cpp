#include "agent/api/dns_query.hpp"

#include <algorithm>
#include <cctype>

namespace netring::agent::api {
namespace {

std::optional<int> parse_rcode(const std::string& v) {
  static constexpr const char* kNames[] = {"NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
                                           "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE", "DSOTYPENI"};
  std::string up;
  for (char c : v) up.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  for (int i = 0; i < static_cast<int>(std::size(kNames)); ++i)
    if (up == kNames[i]) return i;
  if (!v.empty() && v.size() <= 2 && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    const int n = std::stoi(v);
    if (n < 16) return n;
  }
  return std::nullopt;
}

}  // namespace

bool DnsQuery::matches(const DnsRecord& d) const {
  if (!flow.matches(d.flow)) return false;
  if (outcome && d.outcome != *outcome) return false;
  if (rcode && d.rcode != *rcode) return false;
  if (qname && d.qname != *qname) return false;
  return true;
}

std::variant<DnsQuery, ApiError> parse_dns_query(const httplib::Request& req, const FlowQueryLimits& limits,
                                                 std::uint64_t now_ns) {
  if (auto e =
          check_parameters(req, {"from_pod", "to_pod", "namespace", "workload", "ip", "port", "protocol", "direction",
                                 "reporter", "since", "limit", "follow", "outcome", "rcode", "qname"}))
    return *e;
  auto f = parse_flow_filters(req, limits, now_ns);
  if (auto* e = std::get_if<ApiError>(&f)) return *e;
  DnsQuery q;
  q.flow = std::get<FlowQuery>(std::move(f));
  if (auto v = param(req, "outcome")) {
    if (*v != "answered" && *v != "timeout" && *v != "unmatched_response")
      return ApiError{400, "'" + *v + "' is not an outcome (answered|timeout|unmatched_response)", "outcome"};
    q.outcome = *v;
  }
  if (auto v = param(req, "rcode")) {
    q.rcode = parse_rcode(*v);
    if (!q.rcode)
      return ApiError{400, "'" + *v + "' is not a response code (NOERROR, NXDOMAIN, ... or 0..15)", "rcode"};
  }
  if (auto v = param(req, "qname")) {
    std::string n;
    for (char c : *v) n.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (n.size() > 1 && n.back() == '.') n.pop_back();
    if (n.empty() || n.size() > 253) return ApiError{400, "'" + *v + "' is not a DNS name", "qname"};
    q.qname = n;
  }
  return q;
}

DnsSelection select_dns(std::span<const DnsRecord> records, const DnsQuery& q) {
  DnsSelection sel;
  for (auto it = records.rbegin(); it != records.rend(); ++it) {
    if (!q.matches(*it)) continue;
    ++sel.matched;
    if (sel.records.size() < q.flow.limit) sel.records.push_back(&*it);
  }
  return sel;
}

}  // namespace netring::agent::api
