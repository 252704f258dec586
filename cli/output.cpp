#include "cli/output.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

#include "cli/args.hpp"

namespace netring::cli {
namespace {
std::atomic<bool> g_closed{false};
}

std::string OutputFormat::line(const nlohmann::json& j) const {
  if (kind == OutputKind::kJsonPath && jsonpath) {
    std::string s = jsonpath->render(j);
    if (s.empty() || s.back() != '\n') s += '\n';
    return s;
  }
  return j.dump() + "\n";
}

OutputFormat parse_output_format(const std::string& text) {
  OutputFormat f;
  if (text == "table") return f;
  if (text == "json") {
    f.kind = OutputKind::kJson;
    return f;
  }
  if (text.rfind("jsonpath=", 0) == 0) {
    std::string t = text.substr(9);
    if (t.size() >= 2 && (t.front() == '\'' || t.front() == '"') && t.back() == t.front())
      t = t.substr(1, t.size() - 2);
    f.kind = OutputKind::kJsonPath;
    f.jsonpath = JsonPathTemplate::parse(t);
    return f;
  }
  if (text == "jsonpath") throw UsageError("-o jsonpath needs a template: -o jsonpath='{.src.pod}{\"\\n\"}'");
  throw UsageError("-o '" + text + "': expected table, json or jsonpath=TEMPLATE");
}

bool emit(std::string_view text) {
  if (g_closed.load()) return false;
  while (!text.empty()) {
    ssize_t n = ::write(STDOUT_FILENO, text.data(), text.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      g_closed = true;  // EPIPE and the like: nobody reads any more
      return false;
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool stdout_closed() {
  return g_closed.load();
}

void print_error(const std::string& message) {
  std::fprintf(stderr, "netring: %s\n", message.c_str());
}

}  // namespace netring::cli
