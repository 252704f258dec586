// Command-line options of one netring subcommand: --name value,
// --name=value, -x value, -xvalue, boolean switches, repeatable options and
// positional arguments; "--" ends the options. A mistake is a UsageError
// (exit status 2) that names the option.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace netring::cli {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct OptionSpec {
  std::string name;     // long name, without "--"
  char short_name = 0;  // 0: none
  bool takes_value = false;
  bool repeatable = false;
  std::string value_name;  // in the help text: --server HOST:PORT
  std::string help;
};

class Args {
 public:
  // `positional_max`: how many positional arguments are allowed.
  static Args parse(std::span<const std::string> argv, std::span<const OptionSpec> specs,
                    std::size_t positional_max = 0);

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::optional<std::string> value(const std::string& name) const;
  std::vector<std::string> values(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

// "  --name VALUE, -x VALUE   help" lines, aligned.
std::string options_help(std::span<const OptionSpec> specs);

}  // namespace netring::cli
