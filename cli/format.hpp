// How values of the API read in a table: sizes in SI units, times in the
// local zone, endpoints by pod name (addresses for the rest).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace netring::cli {

// 1234567 -> "1.23 MB"; values under 1000 whole ("999 B").
std::string bytes_text(double bytes);
// 1234.4 -> "1234"; 12345678 -> "12.3M".
std::string count_text(double n);
// RFC 3339 UTC from the API -> local "15:04:05.000" (with the date,
// "Jan 02 15:04:05.000", when `with_date`); the input unchanged if it does
// not parse.
std::string local_time_text(const std::string& rfc3339, bool with_date = false);
// "ns/pod:port" for a pod, "service ns/name:port" for a service address,
// "10.0.0.1:53 (host)" / "(world)" for the rest; the port only for TCP,
// UDP and SCTP.
std::string endpoint_text(const nlohmann::json& endpoint, const std::string& protocol);
// Whether a flow's counts are exact (the kernel counted every packet, or
// each was sampled with p = 1): the API's "exact", or for agents before it
// a zero "bytes_stderr"; nullopt when the flow says neither.
std::optional<bool> flow_exact(const nlohmann::json& flow);
// The mark before an estimated count in a table ("~12.3 MB").
inline constexpr const char* kEstimateMark = "~";
// "SYN,ACK" or "echo-request" style summary of a flow's flags / ICMP type.
std::string flow_summary(const nlohmann::json& flow);
// 3725 s -> "1h2m5s".
std::string duration_text(std::chrono::seconds d);

}  // namespace netring::cli
