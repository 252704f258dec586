#include "cli/listing.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>

#include "cli/interrupt.hpp"

namespace netring::cli {

int list_once(const Common& c, const Query& q, std::size_t last, const OutputFormat& out, const ListingKind& kind) {
  Query query = q;
  query.add("limit", std::to_string(last));
  const std::string target = query.target(kind.endpoint);
  auto answers = for_each_server<std::variant<nlohmann::json, ApiFailure>>(
      c.servers, [&](ApiClient& client) { return client.get_json(target); });
  std::vector<ApiFailure> failures;
  std::vector<nlohmann::json> records;
  for (auto& a : answers) {
    if (auto* f = std::get_if<ApiFailure>(&a)) {
      failures.push_back(std::move(*f));
      continue;
    }
    auto& j = std::get<nlohmann::json>(a);
    if (j.contains(kind.array_key) && j[kind.array_key].is_array())
      for (auto& r : j[kind.array_key])
        if (kind.valid(r)) records.push_back(std::move(r));
  }
  if (failures.size() == c.servers.size()) return report_failures(failures, kind.flag_of_param);
  // Each agent sent its newest `last`; of all of them keep the newest
  // `last`, printed oldest first.
  std::stable_sort(records.begin(), records.end(), kind.newer);
  if (records.size() > last) records.resize(last);
  std::reverse(records.begin(), records.end());
  if (out.kind == OutputKind::kTable) {
    RowTable table(kind.rows, c.term, c.pal, false);
    for (const auto& r : records) table.add(r);
    emit(table.render());
  } else {
    std::string text;
    for (const auto& r : records) text += out.line(r);
    emit(text);
  }
  return report_failures(failures, kind.flag_of_param);
}

// One stream per agent on its own thread; lines meet in a queue the main
// thread prints from.
int list_follow(const Common& c, const Query& q, std::optional<std::size_t> last, const OutputFormat& out,
                const ListingKind& kind) {
  Query query = q;
  query.add("follow", "true");
  query.add("limit", std::to_string(last.value_or(0)));
  const std::string target = query.target(kind.endpoint);

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

  std::optional<RowTable> table;
  if (out.kind == OutputKind::kTable) {
    table.emplace(kind.rows, c.term, c.pal, true);
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
    if (!new_failures.empty() && failures_said < c.servers.size()) report_failures(new_failures, kind.flag_of_param);
    std::string text;
    for (const auto& l : batch) {
      auto r = nlohmann::json::parse(l, nullptr, false);
      if (!kind.valid(r)) continue;
      text += table ? table->line(r) : out.line(r);
    }
    if (!text.empty() && !emit(text)) break;  // stdout closed
    if (interrupt_requested()) break;
  }
  for (auto& cl : clients) cl->stop();
  for (auto& t : threads) t.join();
  if (interrupt_requested() || stdout_closed()) return failures.empty() ? kExitOk : kExitFailure;
  if (failures.size() == c.servers.size()) return report_failures(failures, kind.flag_of_param);
  return failures.empty() ? kExitOk : kExitFailure;
}

std::vector<Filter> endpoint_filters(const std::string& noun) {
  return {
      {{"from-pod", 0, true, false, "[NS/]POD", noun + " from this pod"}, "from_pod"},
      {{"to-pod", 0, true, false, "[NS/]POD", noun + " to this pod"}, "to_pod"},
      {{"namespace", 'n', true, false, "NS", noun + " with either end in this namespace"}, "namespace"},
      {{"workload", 0, true, false, "[NS/]NAME", noun + " with either end in this workload (Deployment, ...)"},
       "workload"},
      {{"protocol", 0, true, false, "PROTO", "tcp, udp, icmp, icmpv6, sctp or a number"}, "protocol"},
      {{"port", 0, true, false, "PORT", noun + " with this port at either end"}, "port"},
      {{"ip", 0, true, false, "ADDR", noun + " with this address at either end"}, "ip"},
      {{"since", 0, true, false, "TIME", "within this long (30s, 5m, 1h) or since an RFC 3339 UTC time"}, "since"},
  };
}

CommandInfo listing_info(const ListingCommand& cmd) {
  CommandInfo i = cmd.info;
  i.options.clear();
  for (const auto& f : cmd.filters) i.options.push_back(f.option);
  i.options.push_back({"last", 'l', true, false, "N",
                       "the newest N " + cmd.noun + " (default " + std::to_string(cmd.default_last) +
                           (cmd.follow ? "; with --follow: printed first)" : ")")});
  if (cmd.follow)
    i.options.push_back({"follow", 'f', false, false, "", "keep printing " + cmd.noun + " as they come, until Ctrl-C"});
  i.options.push_back({"output", 'o', true, false, "FORMAT", "table (default), json, or jsonpath=TEMPLATE"});
  return i;
}

int run_listing(const ListingCommand& cmd, std::span<const std::string> argv) {
  const CommandInfo info = listing_info(cmd);
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
  ListingKind kind = cmd.kind;
  Query q;
  for (const auto& f : cmd.filters) {
    kind.flag_of_param[f.param] = "--" + f.option.name;
    if (auto v = args.value(f.option.name)) q.add(f.param, *v);
  }
  kind.flag_of_param["limit"] = "--last";
  std::optional<std::size_t> last;
  if (auto v = args.value("last")) {
    char* end = nullptr;
    unsigned long n = std::strtoul(v->c_str(), &end, 10);
    // The upper bound is the API's (it says so if N is too large).
    if (v->empty() || *end != '\0' || (*v)[0] == '-' || n < 1)
      throw UsageError("--last '" + *v + "': expected a number of " + cmd.noun + ", at least 1");
    last = n;
  }
  if (cmd.follow && args.has("follow")) return list_follow(c, q, last, out, kind);
  return list_once(c, q, last.value_or(cmd.default_last), out, kind);
}

}  // namespace netring::cli
