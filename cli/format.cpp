#include "cli/format.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace netring::cli {

std::string bytes_text(double bytes) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  int i = 0;
  while (std::fabs(bytes) >= 1000 && i < 5) {
    bytes /= 1000;
    ++i;
  }
  char buf[32];
  if (i == 0)
    std::snprintf(buf, sizeof buf, "%.0f B", bytes);
  else
    std::snprintf(buf, sizeof buf, bytes < 10 ? "%.2f %s" : bytes < 100 ? "%.1f %s" : "%.0f %s", bytes, kUnits[i]);
  return buf;
}

std::string count_text(double n) {
  char buf[32];
  if (n < 100000) {
    std::snprintf(buf, sizeof buf, "%.0f", n);
    return buf;
  }
  static constexpr const char* kUnits[] = {"", "k", "M", "G", "T"};
  int i = 0;
  while (n >= 1000 && i < 4) {
    n /= 1000;
    ++i;
  }
  std::snprintf(buf, sizeof buf, n < 10 ? "%.2f%s" : n < 100 ? "%.1f%s" : "%.0f%s", n, kUnits[i]);
  return buf;
}

std::string local_time_text(const std::string& rfc3339, bool with_date) {
  std::tm tm{};
  const char* rest = strptime(rfc3339.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return rfc3339;
  int ms = 0;
  if (*rest == '.') {
    int digits = 0;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest, ++digits)
      if (digits < 3) ms = ms * 10 + (*rest - '0');
    for (; digits < 3; ++digits) ms *= 10;
  }
  time_t t = timegm(&tm);
  std::tm local{};
  localtime_r(&t, &local);
  char buf[64];
  std::size_t n = std::strftime(buf, sizeof buf, with_date ? "%b %d %H:%M:%S" : "%H:%M:%S", &local);
  std::snprintf(buf + n, sizeof buf - n, ".%03d", ms);
  return buf;
}

// Built by appending: GCC 12 at -O3 warns falsely on `"x" + std::string`
// temporaries (-Wrestrict, GCC PR 105329), which breaks Release -Werror.
std::string endpoint_text(const nlohmann::json& e, const std::string& protocol) {
  auto str = [&](const char* k) { return e.contains(k) && e[k].is_string() ? e[k].get<std::string>() : ""; };
  std::string port;
  if ((protocol == "tcp" || protocol == "udp" || protocol == "sctp") && e.contains("port") &&
      e["port"].is_number_integer() && e["port"].get<long>() != 0)
    port.append(":").append(std::to_string(e["port"].get<long>()));
  const std::string ns = str("namespace"), pod = str("pod"), service = str("service"), ip = str("ip");
  std::string out;
  if (!pod.empty() || !service.empty()) {
    if (pod.empty()) out.append("service ");
    if (!ns.empty()) out.append(ns).append("/");
    return out.append(pod.empty() ? service : pod).append(port);
  }
  const bool brackets = ip.find(':') != std::string::npos && !port.empty();
  if (brackets) out.append("[");
  out.append(ip);
  if (brackets) out.append("]");
  return out.append(port).append(str("node").empty() ? " (world)" : " (host)");
}

std::optional<bool> flow_exact(const nlohmann::json& f) {
  if (!f.is_object()) return std::nullopt;
  if (f.contains("exact") && f["exact"].is_boolean()) return f["exact"].get<bool>();
  if (f.contains("bytes_stderr") && f["bytes_stderr"].is_number()) return f["bytes_stderr"].get<double>() == 0;
  return std::nullopt;
}

std::string flow_summary(const nlohmann::json& f) {
  if (f.contains("tcp_flags") && f["tcp_flags"].is_array()) {
    std::string s;
    for (const auto& flag : f["tcp_flags"]) {
      if (!s.empty()) s += ",";
      s += flag.is_string() ? flag.get<std::string>() : flag.dump();
    }
    return s;
  }
  if (f.contains("icmp") && f["icmp"].is_object()) {
    int type = f["icmp"].value("type", -1), code = f["icmp"].value("code", -1);
    bool v6 = f.value("protocol", "") == "icmpv6";
    const char* name = nullptr;
    if (!v6) {
      switch (type) {
        case 0: name = "echo-reply"; break;
        case 3: name = "unreachable"; break;
        case 5: name = "redirect"; break;
        case 8: name = "echo-request"; break;
        case 11: name = "time-exceeded"; break;
        default: break;
      }
    } else {
      switch (type) {
        case 1: name = "unreachable"; break;
        case 2: name = "packet-too-big"; break;
        case 3: name = "time-exceeded"; break;
        case 128: name = "echo-request"; break;
        case 129: name = "echo-reply"; break;
        case 135: name = "neighbor-solicit"; break;
        case 136: name = "neighbor-advert"; break;
        default: break;
      }
    }
    std::string s = name ? name : "type " + std::to_string(type);
    if (code != 0) s += " code " + std::to_string(code);
    return s;
  }
  return "";
}

std::string duration_text(std::chrono::seconds d) {
  const long long s = std::max<long long>(d.count(), 0);
  const long long parts[] = {s / 86400, s / 3600 % 24, s / 60 % 60, s % 60};
  const char* units[] = {"d", "h", "m", "s"};
  std::string out;
  for (int i = 0; i < 4; ++i)
    if (parts[i] != 0) out.append(std::to_string(parts[i])).append(units[i]);
  return out.empty() ? "0s" : out;
}

}  // namespace netring::cli
