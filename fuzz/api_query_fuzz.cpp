// libFuzzer target for the HTTP API's query parsers (/api/v1/flows, /dns,
// /drops): any query string, decoded as cpp-httplib decodes a request's,
// must parse to a query or to a 4xx error with a message, never a crash,
// an out-of-bounds read (ASan) or undefined behaviour (UBSan); a parsed
// query keeps its limit within the configured bounds, and an error names a
// parameter the request has, or none.
// Built only with -DNETRING_FUZZ=ON and clang; run it with scripts/fuzz.sh.
#include <httplib.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>

#include "agent/api/dns_query.hpp"
#include "agent/api/drop_query.hpp"
#include "agent/api/flow_query.hpp"

namespace {

using namespace netring::agent::api;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr std::uint64_t kNow = 1'780'000'000'000'000'000ull;  // 2026-05-28, any fixed time

void check_error(const ApiError& e, const httplib::Request& req) {
  check(e.status >= 400 && e.status < 500);
  check(!e.message.empty());
  check(e.parameter.empty() || req.has_param(e.parameter));
}

template <class Q>
void check_result(const std::variant<Q, ApiError>& r, const httplib::Request& req, const FlowQueryLimits& limits) {
  if (const auto* e = std::get_if<ApiError>(&r)) return check_error(*e, req);
  const Q& q = std::get<Q>(r);
  if constexpr (std::is_same_v<Q, FlowQuery>) {
    check(q.limit <= limits.max_limit);
    check(q.follow || q.limit >= 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string query(reinterpret_cast<const char*>(data), size);
  httplib::Request req;
  // What the server does with the part of the target after '?'.
  httplib::detail::parse_query_text(query, req.params);
  const FlowQueryLimits limits{.default_limit = 100, .max_limit = 10000};
  check_result(parse_flow_query(req, limits, kNow), req, limits);
  check_result(parse_dns_query(req, limits, kNow), req, limits);
  check_result(parse_drop_query(req, limits, kNow), req, limits);
  return 0;
}
