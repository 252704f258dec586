// netring top: the largest talkers of all agents, by bytes/s over a recent
// window (the API's top?window=) or by the totals of the flows the agents
// hold (--total); refreshing on a terminal, like top(1).
#include <ctime>
#include <thread>

#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "cli/interrupt.hpp"
#include "cli/query.hpp"
#include "cli/table.hpp"
#include "pkg/common/duration.hpp"

namespace netring::cli {
namespace {

struct KeyName {
  const char* cli;
  const char* api;
  const char* title;
};
constexpr KeyName kKeys[] = {
    {"pairs", "pair", "workload pairs"},
    {"workloads", "src_workload", "sending workloads"},
    {"destinations", "dst_workload", "receiving workloads"},
    {"namespaces", "namespace", "sending namespaces"},
    {"pods", "pod", "sending pods"},
};

struct Entry {
  std::string key, src, dst;
  double bytes = 0, packets = 0, flows = 0, bytes_per_second = 0, packets_per_second = 0;
};

struct Frame {
  std::vector<Entry> entries;  // sorted, all groups
  bool truncated = false;      // some agent had more groups than it sent
  double covered_min = 0, covered_max = 0;
  std::size_t agents = 0;
  std::vector<ApiFailure> failures;
};

double num(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : 0.0;
}
std::string str(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

Frame fetch(const Common& c, const std::string& target, bool windowed, bool by_bytes) {
  auto answers = for_each_server<std::variant<nlohmann::json, ApiFailure>>(
      c.servers, [&](ApiClient& client) { return client.get_json(target); });
  Frame f;
  std::map<std::string, Entry> sum;
  bool first = true;
  for (auto& a : answers) {
    if (auto* fail = std::get_if<ApiFailure>(&a)) {
      f.failures.push_back(std::move(*fail));
      continue;
    }
    const auto& j = std::get<nlohmann::json>(a);
    ++f.agents;
    f.truncated = f.truncated || (j.contains("truncated") && j["truncated"].is_boolean() && j["truncated"].get<bool>());
    double covered = num(j, "covered_seconds");
    f.covered_min = first ? covered : std::min(f.covered_min, covered);
    f.covered_max = first ? covered : std::max(f.covered_max, covered);
    first = false;
    if (!j.contains("top") || !j["top"].is_array()) continue;
    for (const auto& e : j["top"]) {
      Entry& s = sum[str(e, "key")];
      s.key = str(e, "key");
      s.src = str(e, "src");
      s.dst = str(e, "dst");
      s.bytes += num(e, "bytes");
      s.packets += num(e, "packets");
      s.flows += num(e, "flows");
      s.bytes_per_second += num(e, "bytes_per_second");
      s.packets_per_second += num(e, "packets_per_second");
    }
  }
  for (auto& [k, e] : sum) f.entries.push_back(std::move(e));
  auto measure = [&](const Entry& e) {
    if (windowed) return by_bytes ? e.bytes_per_second : e.packets_per_second;
    return by_bytes ? e.bytes : e.packets;
  };
  std::sort(f.entries.begin(), f.entries.end(), [&](const Entry& a, const Entry& b) {
    double ma = measure(a), mb = measure(b);
    return ma != mb ? ma > mb : a.key < b.key;
  });
  return f;
}

nlohmann::json entry_json(const Entry& e, bool pair, bool windowed) {
  nlohmann::json j{{"key", e.key}, {"bytes", e.bytes}, {"packets", e.packets}};
  if (pair) {
    j["src"] = e.src;
    j["dst"] = e.dst;
  }
  if (windowed) {
    j["bytes_per_second"] = e.bytes_per_second;
    j["packets_per_second"] = e.packets_per_second;
  } else {
    j["flows"] = e.flows;
  }
  return j;
}

std::string table_text(const Common& c, const Frame& f, std::size_t limit, bool pair, bool windowed) {
  std::vector<Column> cols;
  if (pair) {
    cols.push_back({"SOURCE", false, true, 12, 0, 0});
    cols.push_back({"DESTINATION", false, true, 12, 0, 0});
  } else {
    cols.push_back({"NAME", false, true, 16, 0, 0});
  }
  if (windowed) {
    cols.push_back({"BYTES/S", true, false, 10, 0, 0});
    cols.push_back({"PACKETS/S", true, false, 10, 1, 0});
    cols.push_back({"BYTES", true, false, 10, 2, 0});
    cols.push_back({"PACKETS", true, false, 10, 3, 0});
  } else {
    cols.push_back({"BYTES", true, false, 10, 0, 0});
    cols.push_back({"PACKETS", true, false, 10, 1, 0});
    cols.push_back({"FLOWS", true, false, 10, 2, 0});
  }
  Table t(cols, c.term.width, c.term.ellipsis, c.pal.bold, c.pal.reset);
  for (std::size_t i = 0; i < f.entries.size() && i < limit; ++i) {
    const Entry& e = f.entries[i];
    Row r;
    if (pair) {
      r.push_back({e.src, c.pal.cyan});
      r.push_back({e.dst, c.pal.magenta});
    } else {
      r.push_back({e.key, c.pal.cyan});
    }
    if (windowed) {
      r.push_back({bytes_text(e.bytes_per_second) + "/s", ""});
      r.push_back({count_text(e.packets_per_second), ""});
    }
    r.push_back({bytes_text(e.bytes), ""});
    r.push_back({count_text(e.packets), ""});
    if (!windowed) r.push_back({count_text(e.flows), ""});
    t.add(std::move(r));
  }
  return t.render();
}

std::string title(const Common& c, const KeyName& key, bool by_bytes, const std::optional<std::string>& window,
                  const Frame& f) {
  char clock[16];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  std::strftime(clock, sizeof clock, "%H:%M:%S", &tm);
  std::string s = std::string(c.pal.bold) + "netring top " + key.cli + c.pal.reset + ": " + key.title + " by " +
                  (by_bytes ? "bytes" : "packets");
  if (window) {
    char cov[64];
    std::snprintf(cov, sizeof cov, "%.1f", f.covered_min);
    s += "/s over the last " + *window;
    if (f.covered_min + 0.5 < parse_duration(*window).value_or(std::chrono::milliseconds(0)).count() / 1000.0)
      s += std::string(" (the agents have ") + cov + " s of history yet)";
  } else {
    s += ", totals of the flows the agents hold";
  }
  s += " \u00b7 " + std::to_string(f.agents) + (f.agents == 1 ? " agent" : " agents") + " \u00b7 " + clock + "\n";
  return s;
}

}  // namespace

CommandInfo top_info() {
  CommandInfo i;
  i.name = "top";
  i.synopsis = "netring top [pairs|workloads|destinations|namespaces|pods] [options]";
  i.description =
      "The largest talkers over all agents: workload pairs (default), sending workloads, receiving workloads,\n"
      "sending namespaces or pods, by bytes/s (or packets/s) over the last --window, summed over the agents.\n"
      "--total ranks by the totals of the flows the agents hold instead. On a terminal the table refreshes\n"
      "every --interval until Ctrl-C; otherwise (or with --once) it is printed once.";
  i.options = {
      {"by", 0, true, false, "bytes|packets", "what to rank by (default bytes)"},
      {"window", 'w', true, false, "DURATION", "rates over this recent span, 1s..5m (default 10s)"},
      {"total", 0, false, false, "", "rank by the totals of the flows held, not by recent rates"},
      {"limit", 0, true, false, "N", "rows (default: what fits the terminal, else 20)"},
      {"interval", 0, true, false, "DURATION", "refresh period on a terminal (default 2s)"},
      {"once", 0, false, false, "", "print once, also on a terminal"},
      {"output", 'o', true, false, "FORMAT", "table (default), json (a group a line), or jsonpath=TEMPLATE"},
  };
  i.positional_max = 1;
  i.examples =
      "  netring top\n"
      "  netring top workloads --by packets --window 1m\n"
      "  netring top pods --total --once -o json\n";
  return i;
}

int run_top(std::span<const std::string> argv) {
  CommandInfo info = top_info();
  std::vector<OptionSpec> specs = info.options;
  for (auto& o : common_options()) specs.push_back(o);
  Args args = Args::parse(argv, specs, info.positional_max);
  if (args.has("help")) {
    emit(command_help(info));
    return kExitOk;
  }
  Common c = common_from(args);
  OutputFormat out;
  if (auto v = args.value("output")) out = parse_output_format(*v);

  const KeyName* key = &kKeys[0];
  if (!args.positional().empty()) {
    key = nullptr;
    const std::string& k = args.positional()[0];
    for (const auto& kn : kKeys)
      if (k == kn.cli || k == kn.api) key = &kn;
    if (key == nullptr)
      throw UsageError("'" + k +
                       "' is not what top ranks: pairs, workloads, destinations, "
                       "namespaces or pods");
  }
  std::string by = args.value("by").value_or("bytes");
  if (by != "bytes" && by != "packets") throw UsageError("--by '" + by + "': expected bytes or packets");
  if (args.has("total") && args.has("window")) throw UsageError("--total and --window exclude each other");
  std::optional<std::string> window;
  if (!args.has("total")) window = args.value("window").value_or("10s");
  std::chrono::milliseconds interval{2000};
  if (auto v = args.value("interval")) {
    auto d = parse_duration(*v);
    if (!d || *d < std::chrono::milliseconds(100))
      throw UsageError("--interval '" + *v + "': expected a duration of at least 100ms (e.g. 2s)");
    interval = *d;
  }
  std::optional<std::size_t> limit;
  if (auto v = args.value("limit")) {
    char* end = nullptr;
    unsigned long n = std::strtoul(v->c_str(), &end, 10);
    if (v->empty() || *end != '\0' || (*v)[0] == '-' || n < 1)
      throw UsageError("--limit '" + *v + "': expected a number of rows, at least 1");
    limit = n;
  }
  const bool refresh = c.term.is_tty && !args.has("once");
  if (!limit) limit = refresh && c.term.height && *c.term.height > 4 ? *c.term.height - 3 : 20;

  Query q;
  q.add("key", key->api).add("by", by).add("limit", "1000");
  if (window) q.add("window", *window);
  const std::string target = q.target("/api/v1/top");
  const bool pair = std::string(key->api) == "pair";
  const std::map<std::string, std::string> flags{{"window", "--window"}, {"by", "--by"}, {"key", "top's argument"}};

  for (bool first = true;; first = false) {
    Frame f = fetch(c, target, window.has_value(), by == "bytes");
    if (f.failures.size() == c.servers.size()) return report_failures(f.failures, flags);
    std::string text;
    if (out.kind == OutputKind::kTable) {
      if (refresh) text = "\033[H\033[2J" + title(c, *key, by == "bytes", window, f);
      text += table_text(c, f, *limit, pair, window.has_value());
      if (f.truncated && refresh) text += "(some agents hold more groups than the 1000 they send)\n";
    } else {
      for (std::size_t i = 0; i < f.entries.size() && i < *limit; ++i)
        text += out.line(entry_json(f.entries[i], pair, window.has_value()));
    }
    if (!emit(text)) return kExitOk;
    if (!refresh) return report_failures(f.failures, flags);
    if (!f.failures.empty() && first) report_failures(f.failures, flags);
    for (auto waited = std::chrono::milliseconds(0); waited < interval; waited += std::chrono::milliseconds(100)) {
      if (interrupt_requested()) return kExitOk;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (interrupt_requested()) return kExitOk;
  }
}

}  // namespace netring::cli
