#include "cli/status_words.hpp"

#include <ctime>
#include <map>
#include <vector>

#include "cli/format.hpp"

namespace netring::cli {
namespace {

std::string str(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}
double num(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].get<double>() : 0.0;
}
bool flag(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_boolean() && j[key].get<bool>();
}

std::string backend_words(const std::string& b) {
  if (b == "afxdp") return "AF_XDP sockets on the mirror link (afxdp)";
  if (b == "afpacket") return "AF_PACKET TPACKET_V3 on the mirror link (afpacket)";
  if (b.empty()) return "none yet";
  return b;
}

// Seconds since an RFC 3339 UTC time, or -1.
long seconds_since(const std::string& rfc3339) {
  std::tm tm{};
  if (strptime(rfc3339.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return -1;
  return static_cast<long>(std::time(nullptr) - timegm(&tm));
}

struct Section {
  std::string label;
  std::vector<std::string> lines;
};

}  // namespace

std::string status_words(const Palette& p, const std::string& server, const nlohmann::json& s,
                         const nlohmann::json& ifs) {
  std::vector<Section> out;

  const auto& backend = s.contains("backend") ? s["backend"] : nlohmann::json::object();
  Section cap{"capture", {backend_words(str(backend, "name"))}};
  if (!str(backend, "reason").empty()) cap.lines.push_back("because " + str(backend, "reason"));
  out.push_back(cap);

  Section hooks{"hooks", {}};
  std::map<std::string, std::map<std::string, int>> by_role;  // role -> hook -> count
  std::size_t n_if = 0;
  if (ifs.contains("interfaces") && ifs["interfaces"].is_array()) {
    for (const auto& i : ifs["interfaces"]) {
      ++by_role[str(i, "role")][str(i, "hook")];
      ++n_if;
    }
  }
  if (n_if == 0) {
    hooks.lines.push_back("no interface hooked yet");
  } else {
    std::string summary = std::to_string(n_if) + (n_if == 1 ? " interface:" : " interfaces:");
    bool first = true;
    for (const auto& [role, hooks_of] : by_role)
      for (const auto& [hook, n] : hooks_of) {
        summary += std::string(first ? " " : ", ") + std::to_string(n) + " " + (role.empty() ? "?" : role) + " via " +
                   (hook.empty() ? "?" : hook);
        first = false;
      }
    hooks.lines.push_back(summary);
    for (const auto& i : ifs["interfaces"]) {
      char line[256];
      std::snprintf(line, sizeof line, "%-16s %-9s %-7s %-9s rx %s / tx %s packets", str(i, "name").c_str(),
                    str(i, "role").c_str(), str(i, "hook").c_str(), str(i, "backend").c_str(),
                    count_text(num(i, "rx_packets")).c_str(), count_text(num(i, "tx_packets")).c_str());
      hooks.lines.push_back(line);
    }
  }
  out.push_back(hooks);

  const auto& samples = s.contains("samples") ? s["samples"] : nlohmann::json::object();
  double received = num(samples, "received"), lost = num(samples, "lost");
  char pct[32];
  std::snprintf(pct, sizeof pct, "%.2f%%", received + lost > 0 ? 100.0 * lost / (received + lost) : 0.0);
  Section smp{"samples", {count_text(received) + " received, " + count_text(lost) + " lost (" + pct + ")"}};
  if (samples.contains("lost_by_reason") && samples["lost_by_reason"].is_array())
    for (const auto& l : samples["lost_by_reason"]) {
      if (num(l, "count") <= 0) continue;
      smp.lines.push_back(std::string(flag(l, "in_total") ? p.red : p.yellow) + count_text(num(l, "count")) + " " +
                          str(l, "reason") + " at " + str(l, "stage") + p.reset +
                          (flag(l, "in_total") ? "" : " (where sequence gaps came from; not added again)"));
    }
  out.push_back(smp);

  Section fb{"fallbacks", {}};
  if (s.contains("fallbacks") && s["fallbacks"].is_array())
    for (const auto& f : s["fallbacks"])
      fb.lines.push_back(str(f, "what") + ": " + str(f, "chosen") + " (" + str(f, "reason") + ")");
  if (fb.lines.empty()) fb.lines.push_back("none: every preferred mechanism serves");
  out.push_back(fb);

  Section kern{"kernel", {}};
  std::string yes, no;
  if (s.contains("kernel_features") && s["kernel_features"].is_object())
    for (const auto& [k, v] : s["kernel_features"].items()) (v.is_boolean() && v.get<bool>() ? yes : no) += " " + k;
  kern.lines.push_back("has" + (yes.empty() ? std::string(" nothing probed") : yes) +
                       (no.empty() ? "" : "; lacks" + no));
  out.push_back(kern);

  const auto& flows = s.contains("flows") ? s["flows"] : nlohmann::json::object();
  out.push_back({"flows",
                 {count_text(num(flows, "active")) + " active, " + count_text(num(flows, "evictions")) +
                  " evicted from the tables"}});

  // --exact-flows (doc/api.md): which counts the kernel makes exactly and
  // which are estimated from samples. Agents before it have no such block.
  if (s.contains("exact_flows") && s["exact_flows"].is_object()) {
    const auto& x = s["exact_flows"];
    const std::string mode = str(x, "mode");
    Section ex{"exact flows", {}};
    if (mode == "off")
      ex.lines.push_back("off: every flow count is estimated from samples");
    else if (mode == "bulk")
      ex.lines.push_back("bulk: the kernel counts GSO/GRO super-packets exactly; the rest is estimated from samples");
    else if (mode == "all")
      ex.lines.push_back("all: the kernel counts every packet exactly");
    else
      ex.lines.push_back(mode.empty() ? "?" : mode);
    if (mode != "off") {
      double uncounted = 0;
      std::string reasons;
      if (x.contains("uncounted_skbs") && x["uncounted_skbs"].is_object())
        for (const auto& [k, v] : x["uncounted_skbs"].items()) {
          const double n = v.is_number() ? v.get<double>() : 0;
          if (n <= 0) continue;
          uncounted += n;
          reasons += (reasons.empty() ? " (" : ", ") + k + " " + count_text(n);
        }
      if (!reasons.empty()) reasons += ")";
      ex.lines.push_back(count_text(num(x, "counted_skbs")) + " skbs counted in the kernel, " + count_text(uncounted) +
                         " it could not count, estimated instead" + reasons);
      char last[64];
      std::snprintf(last, sizeof last, "%.1f ms", num(x, "last_drain_ms"));
      ex.lines.push_back(count_text(num(x, "drains")) + " drains of the kernel's map, the last took " + last + " for " +
                         count_text(num(x, "flows_last_drain")) + " flows");
      if (num(x, "drain_errors") > 0)
        ex.lines.push_back(std::string(p.red) + count_text(num(x, "drain_errors")) + " drain errors" + p.reset);
    }
    out.push_back(ex);
  }

  // --copy-budget (doc/api.md): whether load has scaled 1:N. Agents before
  // it have no such block.
  if (s.contains("copy_budget") && s["copy_budget"].is_object()) {
    const auto& b = s["copy_budget"];
    Section cb{"copy budget", {}};
    const double budget = num(b, "per_cpu_per_second");
    if (budget <= 0) {
      cb.lines.push_back("off: copies are drawn at a fixed 1:N whatever the load");
    } else {
      std::string l = count_text(budget) + " copies a second per CPU; ";
      const double scale = num(b, "max_scale");
      if (scale > 1)
        l += "now scaling 1:N by up to " + count_text(scale) + " on " + count_text(num(b, "cpus_scaled")) + " CPUs";
      else
        l += "no CPU scaled now";
      cb.lines.push_back(l);
      cb.lines.push_back(count_text(num(b, "scaled_copies")) +
                         " copies drawn at a scaled rate; flows' intervals allow " +
                         "for unseen packets at 1:" + count_text(num(b, "unseen_rate")));
    }
    out.push_back(cb);
  }

  Section parse{"parse errors", {}};
  if (s.contains("parse_errors") && s["parse_errors"].is_object())
    for (const auto& [k, v] : s["parse_errors"].items())
      if (v.is_number() && v.get<double>() > 0) parse.lines.push_back(count_text(v.get<double>()) + " " + k);
  if (parse.lines.empty()) parse.lines.push_back("none");
  out.push_back(parse);

  Section kube{"kubernetes", {}};
  if (s.contains("kubernetes") && s["kubernetes"].is_array())
    for (const auto& w : s["kubernetes"]) {
      std::string l = str(w, "resource") + ": " + (flag(w, "connected") ? "connected" : "NOT connected") +
                      (flag(w, "synced") ? ", synced" : ", not synced yet");
      long ago = seconds_since(str(w, "last_event"));
      if (ago >= 0) l += ", last event " + duration_text(std::chrono::seconds(ago)) + " ago";
      l += " (" + count_text(num(w, "restarts")) + " restarts, " + count_text(num(w, "relists")) + " relists, " +
           count_text(num(w, "errors")) + " errors)";
      kube.lines.push_back(l);
    }
  if (kube.lines.empty()) kube.lines.push_back("no watches (names from a file, or none)");
  out.push_back(kube);

  // IPFIX export (doc/ipfix.md): where to, and what did not get there.
  if (s.contains("flow_export") && s["flow_export"].is_object()) {
    const auto& x = s["flow_export"];
    Section ex{"IPFIX export", {}};
    if (!flag(x, "enabled")) {
      ex.lines.push_back("off");
    } else {
      ex.lines.push_back("to " + str(x, "collector") + " over " + str(x, "transport") +
                         (flag(x, "connected") ? "" : std::string(", ") + p.red + "NOT connected" + p.reset) + ": " +
                         count_text(num(x, "records")) + " records in " + count_text(num(x, "messages")) + " messages");
      double lost = 0;
      if (x.contains("records_lost") && x["records_lost"].is_object())
        for (const auto& [k, v] : x["records_lost"].items()) lost += v.is_number() ? v.get<double>() : 0;
      if (lost > 0) ex.lines.push_back(std::string(p.red) + count_text(lost) + " records lost" + p.reset);
      if (!str(x, "last_error").empty()) ex.lines.push_back("last error: " + str(x, "last_error"));
    }
    out.push_back(ex);
  }

  const auto& capi = s.contains("capture_api") ? s["capture_api"] : nlohmann::json::object();
  if (flag(capi, "enabled"))
    out.push_back(
        {"capture API",
         {std::string("on") + (flag(capi, "running") ? ", a capture is running" : "") + ": up to " +
          duration_text(std::chrono::seconds(static_cast<long>(num(capi, "max_duration_ms") / 1000))) + " and " +
          count_text(num(capi, "max_packets")) + " packets, " + count_text(num(capi, "snap_len")) + " bytes of each"}});
  else
    out.push_back({"capture API", {"off (the agent runs without --enable-capture-api)"}});

  std::string head = std::string(p.bold) + server + p.reset + "  node " + str(s, "node") + " \u00b7 netring-agent " +
                     str(s, "version") + " \u00b7 " +
                     (flag(s, "ready") ? std::string(p.green) + "ready" : std::string(p.red) + "NOT READY") + p.reset;
  long up = seconds_since(str(s, "started"));
  if (up >= 0) head += " \u00b7 up " + duration_text(std::chrono::seconds(up));
  std::string text = head + "\n";
  std::size_t w = 0;
  for (const auto& sec : out) w = std::max(w, sec.label.size());
  for (const auto& sec : out)
    for (std::size_t i = 0; i < sec.lines.size(); ++i) {
      std::string label = i == 0 ? sec.label : "";
      text +=
          "  " + std::string(p.dim) + label + p.reset + std::string(w - label.size() + 2, ' ') + sec.lines[i] + "\n";
    }
  return text;
}

}  // namespace netring::cli
