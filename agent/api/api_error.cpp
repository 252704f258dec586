#include "agent/api/api_error.hpp"

#include <charconv>
#include <ctime>
#include <nlohmann/json.hpp>

#include "pkg/common/duration.hpp"

namespace netring::agent::api {

namespace {
// "'TEXT'" followed by `rest`. Built by appending rather than with
// `"'" + std::string(text) + ...`: GCC 12 at -O3 warns falsely on that form
// (-Wrestrict, GCC PR 105329), which breaks Release -Werror builds.
std::string quoted(std::string_view text, std::string_view rest) {
  std::string s;
  s.reserve(text.size() + rest.size() + 2);
  s.append("'").append(text).append("'").append(rest);
  return s;
}
}  // namespace

void send_error(httplib::Response& res, const ApiError& e) {
  nlohmann::json body{{"error", e.message}};
  if (!e.parameter.empty()) body["parameter"] = e.parameter;
  res.status = e.status;
  // Messages quote what the client sent, which need not be UTF-8 (%ff in a
  // query): replaced, not thrown on (a throw here became an empty 500).
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", "application/json");
}

void send_json(httplib::Response& res, const std::string& body) {
  res.status = 200;
  res.set_content(body, "application/json");
}

std::optional<ApiError> check_parameters(const httplib::Request& req, std::initializer_list<std::string_view> allowed) {
  for (const auto& [name, value] : req.params) {
    bool known = false;
    for (auto a : allowed) known = known || a == name;
    if (!known) {
      std::string list;
      for (auto a : allowed) {
        if (!list.empty()) list.append(", ");
        list.append(a);
      }
      std::string msg = "unknown parameter " + quoted(name, "");
      if (list.empty())
        msg.append(" (this endpoint takes none)");
      else
        msg.append(" (allowed: ").append(list).append(")");
      return ApiError{400, std::move(msg), name};
    }
    if (req.params.count(name) > 1) return ApiError{400, "parameter '" + name + "' given more than once", name};
  }
  return std::nullopt;
}

std::optional<std::string> param(const httplib::Request& req, const char* name) {
  auto it = req.params.find(name);
  if (it == req.params.end()) return std::nullopt;
  return it->second;
}

std::optional<ApiError> parse_count(std::string_view name, std::string_view text, std::uint64_t min, std::uint64_t max,
                                    std::uint64_t& out) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || v < min || v > max)
    return ApiError{400, quoted(text, " is not an integer in " + std::to_string(min) + ".." + std::to_string(max)),
                    std::string(name)};
  out = v;
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  return netring::parse_duration(text);
}

std::optional<std::uint64_t> parse_since(std::string_view text, std::uint64_t now_ns) {
  if (auto d = parse_duration(text)) {
    std::uint64_t ago = static_cast<std::uint64_t>(d->count()) * 1'000'000ull;
    return ago > now_ns ? 0 : now_ns - ago;
  }
  // YYYY-MM-DDTHH:MM:SS[.fraction]Z
  std::tm tm{};
  std::string s(text);
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return std::nullopt;
  std::uint64_t frac_ns = 0;
  if (*rest == '.') {
    ++rest;
    int digits = 0;
    while (*rest >= '0' && *rest <= '9') {
      if (digits < 9) frac_ns = frac_ns * 10 + static_cast<std::uint64_t>(*rest - '0');
      ++digits;
      ++rest;
    }
    if (digits == 0) return std::nullopt;
    for (int i = digits; i < 9; ++i) frac_ns *= 10;
  }
  if (std::string_view(rest) != "Z") return std::nullopt;
  time_t secs = timegm(&tm);
  if (secs < 0) return std::nullopt;
  return static_cast<std::uint64_t>(secs) * 1'000'000'000ull + frac_ns;
}

std::optional<ApiError> parse_bool(std::string_view name, std::string_view text, bool& out) {
  if (text == "true" || text == "1") {
    out = true;
  } else if (text == "false" || text == "0") {
    out = false;
  } else {
    return ApiError{400, quoted(text, " is not a boolean (true|false)"), std::string(name)};
  }
  return std::nullopt;
}

std::string format_time_ns(std::uint64_t ns) {
  time_t secs = static_cast<time_t>(ns / 1'000'000'000ull);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lluZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<unsigned long long>(ns % 1'000'000'000ull));
  return buf;
}

}  // namespace netring::agent::api
