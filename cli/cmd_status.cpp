// netring status: each agent's state in words: capture backend, hooks,
// samples received and lost, fallbacks, Kubernetes watches.
#include "cli/commands.hpp"
#include "cli/status_words.hpp"

namespace netring::cli {

CommandInfo status_info() {
  CommandInfo i;
  i.name = "status";
  i.synopsis = "netring status [-o table|json|jsonpath=TEMPLATE]";
  i.description =
      "Each agent's state in words: the capture backend and why, the hooked interfaces, samples received and\n"
      "lost (by stage and reason), fallbacks taken, kernel features, flows and which counts are exact\n"
      "(--exact-flows), parse errors, Kubernetes watches, IPFIX export and the capture API. -o json prints each\n"
      "agent's /api/v1/status with its \"interfaces\" and \"server\".";
  i.options = {
      {"output", 'o', true, false, "FORMAT", "words (table, the default), json, or jsonpath=TEMPLATE"},
  };
  i.examples =
      "  netring status\n"
      "  netring status --server-file agents.txt -o jsonpath='{.server} {.samples.lost}'\n";
  return i;
}

int run_status(std::span<const std::string> argv) {
  CommandInfo info = status_info();
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

  struct Answer {
    std::optional<nlohmann::json> status, interfaces;
    std::optional<ApiFailure> failure;
  };
  auto answers = for_each_server<Answer>(c.servers, [](ApiClient& client) {
    Answer a;
    auto s = client.get_json("/api/v1/status");
    if (auto* f = std::get_if<ApiFailure>(&s)) {
      a.failure = *f;
      return a;
    }
    a.status = std::get<nlohmann::json>(s);
    auto i = client.get_json("/api/v1/interfaces");
    if (auto* f = std::get_if<ApiFailure>(&i)) {
      a.failure = *f;
      return a;
    }
    a.interfaces = std::get<nlohmann::json>(i);
    return a;
  });
  std::vector<ApiFailure> failures;
  std::string text;
  for (std::size_t k = 0; k < answers.size(); ++k) {
    auto& a = answers[k];
    if (a.failure) {
      failures.push_back(*a.failure);
      continue;
    }
    if (out.kind == OutputKind::kTable) {
      if (!text.empty()) text += "\n";
      text += status_words(c.pal, c.servers[k].text(), *a.status, *a.interfaces);
    } else {
      nlohmann::json j = *a.status;
      j["server"] = c.servers[k].text();
      j["interfaces"] = a.interfaces->value("interfaces", nlohmann::json::array());
      text += out.line(j);
    }
  }
  emit(text);
  return report_failures(failures);
}

}  // namespace netring::cli
