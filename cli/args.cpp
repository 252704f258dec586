#include "cli/args.hpp"

#include <algorithm>

namespace netring::cli {
namespace {

const OptionSpec* find_long(std::span<const OptionSpec> specs, const std::string& name) {
  for (const auto& s : specs)
    if (s.name == name) return &s;
  return nullptr;
}

const OptionSpec* find_short(std::span<const OptionSpec> specs, char c) {
  for (const auto& s : specs)
    if (s.short_name != 0 && s.short_name == c) return &s;
  return nullptr;
}

}  // namespace

Args Args::parse(std::span<const std::string> argv, std::span<const OptionSpec> specs, std::size_t positional_max) {
  Args out;
  auto store = [&](const OptionSpec& spec, std::string value, const std::string& as_given) {
    auto& list = out.values_[spec.name];
    if (!list.empty() && !spec.repeatable) throw UsageError(as_given + " given more than once");
    list.push_back(std::move(value));
  };
  bool options_done = false;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (options_done || a.size() < 2 || a[0] != '-') {
      out.positional_.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a[1] == '-') {
      auto eq = a.find('=');
      std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      const OptionSpec* spec = find_long(specs, name);
      if (spec == nullptr) throw UsageError("unknown option --" + name);
      if (!spec->takes_value) {
        if (eq != std::string::npos) throw UsageError("--" + name + " takes no value");
        store(*spec, "", "--" + name);
        continue;
      }
      std::string value;
      if (eq != std::string::npos) {
        value = a.substr(eq + 1);
      } else {
        if (i + 1 >= argv.size()) throw UsageError("--" + name + " needs a value (" + spec->value_name + ")");
        value = argv[++i];
      }
      store(*spec, std::move(value), "--" + name);
      continue;
    }
    // -x, -xVALUE, -x VALUE, or grouped switches -fv.
    for (std::size_t j = 1; j < a.size(); ++j) {
      const OptionSpec* spec = find_short(specs, a[j]);
      if (spec == nullptr) throw UsageError(std::string("unknown option -") + a[j]);
      if (!spec->takes_value) {
        store(*spec, "", std::string("-") + a[j]);
        continue;
      }
      std::string value;
      if (j + 1 < a.size()) {
        value = a.substr(j + 1);
        if (!value.empty() && value[0] == '=') value.erase(0, 1);
      } else {
        if (i + 1 >= argv.size())
          throw UsageError(std::string("-") + a[j] + " needs a value (" + spec->value_name + ")");
        value = argv[++i];
      }
      store(*spec, std::move(value), std::string("-") + a[j]);
      break;
    }
  }
  if (out.positional_.size() > positional_max) {
    const std::string& extra = out.positional_[positional_max];
    throw UsageError("unexpected argument '" + extra + "'");
  }
  return out;
}

std::optional<std::string> Args::value(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Args::values(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::string options_help(std::span<const OptionSpec> specs) {
  std::vector<std::pair<std::string, std::string>> lines;
  std::size_t width = 0;
  for (const auto& s : specs) {
    std::string left = "  ";
    left += s.short_name ? std::string("-") + s.short_name + ", " : "    ";
    left += "--" + s.name;
    if (s.takes_value) left += " " + s.value_name;
    width = std::max(width, left.size());
    lines.emplace_back(std::move(left), s.help);
  }
  std::string out;
  for (auto& [left, help] : lines) {
    out += left;
    out.append(width - left.size() + 3, ' ');
    out += help + "\n";
  }
  return out;
}

}  // namespace netring::cli
