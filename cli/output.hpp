// -o table|json|jsonpath=TEMPLATE, and the one way output reaches stdout:
// whole lines, written with write(2) until complete.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "cli/jsonpath.hpp"

namespace netring::cli {

enum class OutputKind { kTable, kJson, kJsonPath };

struct OutputFormat {
  OutputKind kind = OutputKind::kTable;
  std::optional<JsonPathTemplate> jsonpath;

  // One object as a line of -o json (compact JSON) or -o jsonpath (the
  // template's text, ending in a newline).
  std::string line(const nlohmann::json& j) const;
};

// "table", "json", "jsonpath=TEMPLATE" (also "jsonpath='TEMPLATE'").
OutputFormat parse_output_format(const std::string& text);  // throws UsageError

// Writes `text` to stdout completely. False once stdout is gone (a closed
// pipe): the command then ends quietly.
bool emit(std::string_view text);
bool stdout_closed();

// "netring: <message>" on stderr.
void print_error(const std::string& message);

}  // namespace netring::cli
