// Errors of the HTTP API: a status and a JSON body
// {"error": "...", "parameter": "name"} naming the query parameter at fault.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace netring::agent::api {

struct ApiError {
  int status = 400;
  std::string message;
  std::string parameter;  // empty when no single parameter is at fault
};

void send_error(httplib::Response& res, const ApiError& e);
void send_json(httplib::Response& res, const std::string& body);

// Unknown parameters and parameters given twice are errors: a typo
// ("namspace=") must not silently widen a query.
std::optional<ApiError> check_parameters(const httplib::Request& req, std::initializer_list<std::string_view> allowed);

// The value of a parameter given at most once (check_parameters first).
std::optional<std::string> param(const httplib::Request& req, const char* name);

// Parsers that name the parameter in their error.
std::optional<ApiError> parse_count(std::string_view name, std::string_view text, std::uint64_t min, std::uint64_t max,
                                    std::uint64_t& out);
// Integer + unit: ms, s, m, h ("30s", "5m"), as the configuration takes them.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
// RFC 3339 UTC ("2026-11-25T12:00:00Z", fraction allowed) or a duration
// meaning "that long ago"; returns CLOCK_REALTIME ns.
std::optional<std::uint64_t> parse_since(std::string_view text, std::uint64_t now_ns);
std::optional<ApiError> parse_bool(std::string_view name, std::string_view text, bool& out);

// RFC 3339 with nanoseconds, UTC.
std::string format_time_ns(std::uint64_t ns);

}  // namespace netring::agent::api
