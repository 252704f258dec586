// GET /api/v1/dns: the recent DNS records with the filters of
// /api/v1/flows (the client is the source, the server the destination)
// plus outcome, rcode and qname; newest first, or as a stream (follow).
#pragma once

#include <httplib.h>

#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "agent/api/api_error.hpp"
#include "agent/api/flow_query.hpp"
#include "agent/model.hpp"

namespace netring::agent::api {

struct DnsQuery {
  FlowQuery flow;                      // sort is always newest first
  std::optional<std::string> outcome;  // "answered", "timeout", "unmatched_response"
  std::optional<int> rcode;
  std::optional<std::string> qname;  // exact, case-insensitive

  bool matches(const DnsRecord& d) const;
};

std::variant<DnsQuery, ApiError> parse_dns_query(const httplib::Request& req, const FlowQueryLimits& limits,
                                                 std::uint64_t now_ns);

struct DnsSelection {
  std::vector<const DnsRecord*> records;  // newest first, at most limit
  std::size_t matched = 0;
};
DnsSelection select_dns(std::span<const DnsRecord> records, const DnsQuery& q);

}  // namespace netring::agent::api
