// netring observe: flows from every agent, filtered by the API, newest last
// (as `hubble observe`); --follow streams them as they appear or grow.
#include <condition_variable>
#include <deque>
#include <mutex>

#include "cli/commands.hpp"
#include "cli/flow_table.hpp"
#include "cli/format.hpp"
#include "cli/interrupt.hpp"
#include "cli/query.hpp"

namespace netring::cli {
namespace {

constexpr std::size_t kDefaultLast = 20;

// The API's parameter for each filter option (the same value passes through:
// the API validates it and says what is wrong).
const std::map<std::string, std::string> kFilterParams = {
    {"from-pod", "from_pod"},
    {"to-pod", "to_pod"},
    {"namespace", "namespace"},
    {"workload", "workload"},
    {"protocol", "protocol"},
    {"port", "port"},
    {"ip", "ip"},
    {"since", "since"},
};

std::map<std::string, std::string> flag_of_param() {
  std::map<std::string, std::string> m;
  for (const auto& [flag, param] : kFilterParams) m[param] = "--" + flag;
  m["limit"] = "--last";
  return m;
}

// "2026-11-25T12:00:00.123456789Z" sorts as text: fixed width, UTC.
bool newer(const nlohmann::json& a, const nlohmann::json& b) {
  const std::string& la = a["last_seen"].get_ref<const std::string&>();
  const std::string& lb = b["last_seen"].get_ref<const std::string&>();
  if (la != lb) return la > lb;
  return a.value("id", std::uint64_t{0}) < b.value("id", std::uint64_t{0});  // as the API breaks ties
}

bool valid_flow(const nlohmann::json& f) {
  return f.is_object() && f.contains("last_seen") && f["last_seen"].is_string() && f.contains("src") &&
         f.contains("dst");
}

int observe_once(const Common& c, const Query& q, std::size_t last, const OutputFormat& out) {
  Query query = q;
  query.add("limit", std::to_string(last));
  const std::string target = query.target("/api/v1/flows");
  auto answers = for_each_server<std::variant<nlohmann::json, ApiFailure>>(
      c.servers, [&](ApiClient& client) { return client.get_json(target); });
  std::vector<ApiFailure> failures;
  std::vector<nlohmann::json> flows;
  for (auto& a : answers) {
    if (auto* f = std::get_if<ApiFailure>(&a)) {
      failures.push_back(std::move(*f));
      continue;
    }
    auto& j = std::get<nlohmann::json>(a);
    if (j.contains("flows") && j["flows"].is_array())
      for (auto& f : j["flows"])
        if (valid_flow(f)) flows.push_back(std::move(f));
  }
  if (failures.size() == c.servers.size()) return report_failures(failures, flag_of_param());
  // Each agent sent its newest `last`; of all of them keep the newest
  // `last`, printed oldest first.
  std::sort(flows.begin(), flows.end(), newer);
  if (flows.size() > last) flows.resize(last);
  std::reverse(flows.begin(), flows.end());
  if (out.kind == OutputKind::kTable) {
    FlowTable table(c.term, c.pal, false);
    for (const auto& f : flows) table.add(f);
    emit(table.render());
  } else {
    std::string text;
    for (const auto& f : flows) text += out.line(f);
    emit(text);
  }
  return report_failures(failures, flag_of_param());
}

// One follow stream per agent on its own thread; lines meet in a queue the
// main thread prints from, so output stays whole lines whichever agent
// they came from.
int observe_follow(const Common& c, const Query& q, std::optional<std::size_t> last, const OutputFormat& out) {
  Query query = q;
  query.add("follow", "true");
  query.add("limit", std::to_string(last.value_or(0)));
  const std::string target = query.target("/api/v1/flows");

  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> lines;
  std::vector<ApiFailure> failures;
  std::size_t running = c.servers.size();

  std::vector<std::unique_ptr<ApiClient>> clients;
  for (const auto& s : c.servers) clients.push_back(std::make_unique<ApiClient>(s));
  std::vector<std::thread> threads;
  for (auto& client : clients) {
    threads.emplace_back([&, cl = client.get()] {
      std::string buf;
      auto failure = cl->stream(target, [&](const char* data, std::size_t len) {
        buf.append(data, len);
        std::size_t start = 0;
        std::vector<std::string> got;
        for (std::size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1)
          if (nl > start) got.push_back(buf.substr(start, nl - start));  // empty lines are keep-alives
        buf.erase(0, start);
        if (!got.empty()) {
          std::lock_guard lock(mu);
          for (auto& l : got) lines.push_back(std::move(l));
          cv.notify_one();
        }
        return true;
      });
      std::lock_guard lock(mu);
      if (failure) failures.push_back(std::move(*failure));
      --running;
      cv.notify_one();
    });
  }

  std::optional<FlowTable> table;
  if (out.kind == OutputKind::kTable) {
    table.emplace(c.term, c.pal, true);
    emit(table->header());
  }
  std::size_t failures_said = 0;
  bool done = false;
  while (!done) {
    std::deque<std::string> batch;
    std::vector<ApiFailure> new_failures;
    {
      std::unique_lock lock(mu);
      cv.wait_for(lock, std::chrono::milliseconds(100),
                  [&] { return !lines.empty() || running == 0 || failures.size() > failures_said; });
      batch.swap(lines);
      for (; failures_said < failures.size(); ++failures_said) new_failures.push_back(failures[failures_said]);
      done = running == 0 && batch.empty();
    }
    // An agent that fails while others stream is reported at once.
    if (!new_failures.empty() && failures_said < c.servers.size()) report_failures(new_failures, flag_of_param());
    std::string text;
    for (const auto& l : batch) {
      auto f = nlohmann::json::parse(l, nullptr, false);
      if (!valid_flow(f)) continue;
      text += table ? table->line(f) : out.line(f);
    }
    if (!text.empty() && !emit(text)) break;  // stdout closed
    if (interrupt_requested()) break;
  }
  for (auto& cl : clients) cl->stop();
  for (auto& t : threads) t.join();
  if (interrupt_requested() || stdout_closed()) return failures.empty() ? kExitOk : kExitFailure;
  if (failures.size() == c.servers.size()) return report_failures(failures, flag_of_param());
  return failures.empty() ? kExitOk : kExitFailure;
}

}  // namespace

CommandInfo observe_info() {
  CommandInfo i;
  i.name = "observe";
  i.synopsis = "netring observe [filters] [--last N] [--follow] [-o table|json|jsonpath=TEMPLATE]";
  i.description =
      "Flows the agents see, oldest first, the newest last (20 unless --last). With --follow, then every flow\n"
      "again each time it is new or has grown, until Ctrl-C; --follow alone prints only what changes from now\n"
      "on. The filters are the API's (doc/api.md); a value the API rejects is reported with its message.\n"
      "In the table ~ marks counts estimated from samples; the others the kernel counted exactly.\n"
      "-o json prints each flow as the API gives it, one a line; -o jsonpath applies a kubectl-style\n"
      "template to each flow.";
  i.options = {
      {"from-pod", 0, true, false, "[NS/]POD", "flows from this pod"},
      {"to-pod", 0, true, false, "[NS/]POD", "flows to this pod"},
      {"namespace", 'n', true, false, "NS", "flows with either end in this namespace"},
      {"workload", 0, true, false, "[NS/]NAME", "flows with either end in this workload (Deployment, ...)"},
      {"protocol", 0, true, false, "PROTO", "tcp, udp, icmp, icmpv6, sctp or a number"},
      {"port", 0, true, false, "PORT", "flows with this port at either end"},
      {"ip", 0, true, false, "ADDR", "flows with this address at either end"},
      {"since", 0, true, false, "TIME", "last seen within this long (30s, 5m, 1h) or since an RFC 3339 UTC time"},
      {"last", 'l', true, false, "N", "the newest N flows (default 20; with --follow: printed first)"},
      {"follow", 'f', false, false, "", "keep printing flows as they appear or grow, until Ctrl-C"},
      {"output", 'o', true, false, "FORMAT", "table (default), json, or jsonpath=TEMPLATE"},
  };
  i.examples =
      "  netring observe --namespace shop --protocol tcp\n"
      "  netring observe --from-pod shop/frontend-7d9f8-x2k4p --follow\n"
      "  netring observe --since 5m --last 100 -o json | jq .bytes\n"
      "  netring observe -o jsonpath='{.src.pod} -> {.dst.pod} {.bytes}'\n";
  return i;
}

int run_observe(std::span<const std::string> argv) {
  CommandInfo info = observe_info();
  std::vector<OptionSpec> specs = info.options;
  for (auto& o : common_options()) specs.push_back(o);
  Args args = Args::parse(argv, specs);
  if (args.has("help")) {
    emit(command_help(info));
    return kExitOk;
  }
  Common c = common_from(args);
  OutputFormat out;
  if (auto v = args.value("output")) out = parse_output_format(*v);
  Query q;
  for (const auto& [flag, param] : kFilterParams)
    if (auto v = args.value(flag)) q.add(param, *v);
  std::optional<std::size_t> last;
  if (auto v = args.value("last")) {
    char* end = nullptr;
    unsigned long n = std::strtoul(v->c_str(), &end, 10);
    // The upper bound is the API's (it says so if N is too large).
    if (v->empty() || *end != '\0' || (*v)[0] == '-' || n < 1)
      throw UsageError("--last '" + *v + "': expected a number of flows, at least 1");
    last = n;
  }
  if (args.has("follow")) return observe_follow(c, q, last, out);
  return observe_once(c, q, last.value_or(kDefaultLast), out);
}

}  // namespace netring::cli
