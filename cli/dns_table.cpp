#include "cli/dns_table.hpp"

#include <cstdio>

#include "cli/format.hpp"

namespace netring::cli {
namespace {

std::vector<Column> columns(bool streaming) {
  std::size_t name_floor = streaming ? 30 : 0;
  return {
      {"TIME", false, false, 10, 0, 12},
      {"CLIENT", false, true, 14, 0, name_floor},
      {"SERVER", false, true, 14, 0, name_floor},
      {"QUERY", false, true, 16, 0, streaming ? 30u : 0u},
      {"TYPE", false, false, 4, 2, 5},
      {"ANSWER", false, false, 8, 0, 9},
      {"LATENCY", true, false, 8, 1, streaming ? 10u : 0u},
      {"TRIES", true, false, 5, 3, 5},
  };
}

}  // namespace

std::string latency_text(double ms) {
  char buf[32];
  if (ms >= 1000)
    std::snprintf(buf, sizeof buf, "%.3g s", ms / 1000);
  else if (ms >= 1)
    std::snprintf(buf, sizeof buf, "%.3g ms", ms);
  else
    std::snprintf(buf, sizeof buf, "%.3f ms", ms);
  return buf;
}

Row dns_row(const nlohmann::json& d, const Palette& pal) {
  const std::string proto = json_str(d, "protocol");
  const std::string outcome = json_str(d, "outcome");
  // A timeout has no response; an unmatched response no query time.
  std::string time = json_str(d, "query_time");
  if (time.empty()) time = json_str(d, "response_time");
  std::string answer = outcome == "answered" ? json_str(d, "rcode") : outcome == "timeout" ? "timeout" : "unmatched";
  if (outcome == "unmatched_response" && !json_str(d, "rcode").empty()) answer += " " + json_str(d, "rcode");
  const char* color = answer == "NOERROR" ? pal.green : answer == "NXDOMAIN" ? pal.yellow : pal.red;
  std::string type = json_str(d, "qtype_name");
  if (type.empty() && d.contains("qtype") && d["qtype"].is_number()) type = std::to_string(d["qtype"].get<int>());
  const std::string qname = json_str(d, "qname");
  const bool answered = d.contains("latency_ms") && d["latency_ms"].is_number();
  const double tries = json_num(d, "queries");
  return {
      {local_time_text(time), pal.dim},
      {d.contains("client") ? endpoint_text(d["client"], proto) : "", pal.cyan},
      {d.contains("server") ? endpoint_text(d["server"], proto) : "", pal.magenta},
      {qname.empty() ? "(not captured)" : qname, ""},
      {type, ""},
      {answer, color},
      {answered ? latency_text(d["latency_ms"].get<double>()) : "-", ""},
      {count_text(tries), tries > 1 ? pal.yellow : ""},
  };
}

RowKind dns_rows() {
  return {columns, dns_row};
}

}  // namespace netring::cli
