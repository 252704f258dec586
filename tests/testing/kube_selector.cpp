#include "tests/testing/kube_selector.hpp"

#include <algorithm>
#include <cctype>

namespace netring::testing {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Splits at unescaped commas (field selectors) or at commas outside
// parentheses (label selectors).
std::vector<std::string> split_terms(std::string_view s, bool escapes) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (escapes && c == '\\' && i + 1 < s.size()) {
      cur += c;
      cur += s[++i];
      continue;
    }
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(cur);
      cur.clear();
      continue;
    }
    cur += c;
  }
  out.push_back(cur);
  return out;
}

std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) ++i;
    out += s[i];
  }
  return out;
}

bool valid_label_key(std::string_view k) {
  if (k.empty() || k.size() > 317) return false;
  return std::all_of(k.begin(), k.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/';
  });
}

}  // namespace

const std::string* attr(const Attrs& a, std::string_view name) {
  for (const auto& [k, v] : a) {
    if (k == name) return &v;
  }
  return nullptr;
}

std::optional<FieldSelector> FieldSelector::parse(std::string_view text, const std::vector<std::string>& selectable,
                                                  std::string& error) {
  FieldSelector sel;
  if (trim(text).empty()) return sel;
  for (const std::string& term : split_terms(text, true)) {
    std::string_view t = term;
    Req r;
    size_t pos;
    if ((pos = t.find("!=")) != std::string_view::npos) {
      r.equal = false;
      r.field = std::string(trim(t.substr(0, pos)));
      r.value = unescape(t.substr(pos + 2));
    } else if ((pos = t.find("==")) != std::string_view::npos) {
      r.field = std::string(trim(t.substr(0, pos)));
      r.value = unescape(t.substr(pos + 2));
    } else if ((pos = t.find('=')) != std::string_view::npos) {
      r.field = std::string(trim(t.substr(0, pos)));
      r.value = unescape(t.substr(pos + 1));
    } else {
      error = "invalid selector: '" + std::string(text) + "'; can't understand '" + term + "'";
      return std::nullopt;
    }
    if (r.field == "spec.host") r.field = "spec.nodeName";  // the v1 alias the API still converts
    if (std::find(selectable.begin(), selectable.end(), r.field) == selectable.end()) {
      error = "field label not supported: " + r.field;
      return std::nullopt;
    }
    sel.reqs_.push_back(std::move(r));
  }
  return sel;
}

bool FieldSelector::matches(const Attrs& fields) const {
  for (const Req& r : reqs_) {
    const std::string* v = attr(fields, r.field);
    const std::string& have = v ? *v : std::string();
    if ((have == r.value) != r.equal) return false;
  }
  return true;
}

std::optional<std::string> FieldSelector::exact(std::string_view field) const {
  for (const Req& r : reqs_) {
    if (r.field == field && r.equal) return r.value;
  }
  return std::nullopt;
}

std::optional<LabelSelector> LabelSelector::parse(std::string_view text, std::string& error) {
  LabelSelector sel;
  if (trim(text).empty()) return sel;
  for (const std::string& term : split_terms(text, false)) {
    std::string_view t = trim(term);
    Req r;
    auto bad = [&](const std::string& why) {
      error = "unable to parse requirement: " + why;
      return std::nullopt;
    };
    size_t pos;
    if (!t.empty() && t.front() == '!') {
      r.key = std::string(trim(t.substr(1)));
      r.op = Op::kNotExists;
    } else if ((pos = t.find("!=")) != std::string_view::npos) {
      r.key = std::string(trim(t.substr(0, pos)));
      r.op = Op::kNe;
      r.values.emplace_back(trim(t.substr(pos + 2)));
    } else if ((pos = t.find("==")) != std::string_view::npos) {
      r.key = std::string(trim(t.substr(0, pos)));
      r.values.emplace_back(trim(t.substr(pos + 2)));
    } else if ((pos = t.find('=')) != std::string_view::npos) {
      r.key = std::string(trim(t.substr(0, pos)));
      r.values.emplace_back(trim(t.substr(pos + 1)));
    } else if ((pos = t.find('(')) != std::string_view::npos) {
      std::string_view head = trim(t.substr(0, pos));
      size_t sp = head.rfind(' ');
      if (sp == std::string_view::npos || t.back() != ')') return bad("'" + std::string(t) + "'");
      std::string_view op = head.substr(sp + 1);
      r.key = std::string(trim(head.substr(0, sp)));
      if (op == "in")
        r.op = Op::kIn;
      else if (op == "notin")
        r.op = Op::kNotIn;
      else
        return bad("unknown operator '" + std::string(op) + "'");
      std::string_view inside = t.substr(pos + 1, t.size() - pos - 2);
      for (const std::string& v : split_terms(inside, false)) r.values.emplace_back(trim(v));
    } else {
      r.key = std::string(t);
      r.op = Op::kExists;
    }
    if (!valid_label_key(r.key)) return bad("invalid label key \"" + r.key + "\"");
    sel.reqs_.push_back(std::move(r));
  }
  return sel;
}

bool LabelSelector::matches(const Attrs& labels) const {
  for (const Req& r : reqs_) {
    const std::string* v = attr(labels, r.key);
    auto in = [&] { return v && std::find(r.values.begin(), r.values.end(), *v) != r.values.end(); };
    bool ok = false;
    switch (r.op) {
      case Op::kEq: ok = v && *v == r.values[0]; break;
      case Op::kNe: ok = !v || *v != r.values[0]; break;
      case Op::kIn: ok = in(); break;
      case Op::kNotIn: ok = !in(); break;
      case Op::kExists: ok = v != nullptr; break;
      case Op::kNotExists: ok = v == nullptr; break;
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace netring::testing
