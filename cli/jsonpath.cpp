#include "cli/jsonpath.hpp"

#include <cctype>

#include "cli/args.hpp"

namespace netring::cli {
namespace {

using Node = JsonPathTemplate::Node;
using Path = JsonPathTemplate::Path;
using Step = JsonPathTemplate::Step;

[[noreturn]] void bad(const std::string& what, std::size_t pos) {
  throw UsageError("-o jsonpath: " + what + " at character " + std::to_string(pos + 1));
}

Path parse_path(const std::string& s, std::size_t base) {
  Path p;
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '$' || s[i] == '@')) {
    p.from_root = s[i] == '$';
    ++i;
  }
  while (i < s.size()) {
    if (s[i] == '.') {
      ++i;
      if (i < s.size() && s[i] == '.') bad("recursive descent (..) is not supported", base + i);
      std::size_t start = i;
      while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_' || s[i] == '-')) ++i;
      if (i == start) {
        if (i == s.size() && p.steps.empty()) break;  // "{.}": the element itself
        bad("expected a field name", base + i);
      }
      p.steps.push_back(Step{Step::kField, s.substr(start, i - start), 0});
    } else if (s[i] == '[') {
      auto close = s.find(']', i);
      if (close == std::string::npos) bad("unclosed [", base + i);
      std::string in = s.substr(i + 1, close - i - 1);
      if (in == "*") {
        p.steps.push_back(Step{Step::kAll, "", 0});
      } else if (in.size() >= 2 && (in.front() == '\'' || in.front() == '"') && in.back() == in.front()) {
        p.steps.push_back(Step{Step::kField, in.substr(1, in.size() - 2), 0});
      } else {
        char* end = nullptr;
        long v = std::strtol(in.c_str(), &end, 10);
        if (in.empty() || *end != '\0') bad("'[" + in + "]' is not an index, [*] or ['name']", base + i);
        p.steps.push_back(Step{Step::kIndex, "", v});
      }
      i = close + 1;
    } else {
      bad(std::string("unexpected '") + s[i] + "'", base + i);
    }
  }
  return p;
}

std::string unescape(const std::string& s, std::size_t base) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (++i == s.size()) bad("a string ends in \\", base + i);
    switch (s[i]) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case '\\': out += '\\'; break;
      case '"': out += '"'; break;
      default: bad(std::string("unknown escape \\") + s[i], base + i);
    }
  }
  return out;
}

// Parses nodes until the end, or until {end} when `in_range`.
std::vector<Node> parse_nodes(const std::string& t, std::size_t& i, bool in_range) {
  std::vector<Node> out;
  while (i < t.size()) {
    if (t[i] != '{') {
      auto open = t.find('{', i);
      std::string text = t.substr(i, open == std::string::npos ? std::string::npos : open - i);
      if (text.find('}') != std::string::npos) bad("'}' without '{'", i + text.find('}'));
      out.push_back(Node{Node::kText, text, {}, {}});
      i = open == std::string::npos ? t.size() : open;
      continue;
    }
    // Find the closing brace, skipping a quoted string.
    std::size_t j = i + 1;
    bool quoted = false;
    for (; j < t.size(); ++j) {
      if (quoted) {
        if (t[j] == '\\')
          ++j;
        else if (t[j] == '"')
          quoted = false;
      } else if (t[j] == '"') {
        quoted = true;
      } else if (t[j] == '}') {
        break;
      }
    }
    if (j >= t.size()) bad("unclosed '{'", i);
    std::string expr = t.substr(i + 1, j - i - 1);
    const std::size_t at = i + 1;
    i = j + 1;
    auto b = expr.find_first_not_of(' ');
    auto e = expr.find_last_not_of(' ');
    expr = b == std::string::npos ? "" : expr.substr(b, e - b + 1);
    if (expr.empty()) bad("empty {}", at);
    if (expr == "end") {
      if (!in_range) bad("{end} without {range}", at);
      return out;
    }
    if (expr.rfind("range ", 0) == 0) {
      Node n{Node::kRange, "", parse_path(expr.substr(6), at + 6), {}};
      n.body = parse_nodes(t, i, true);
      out.push_back(std::move(n));
      continue;
    }
    if (expr.front() == '"') {
      if (expr.size() < 2 || expr.back() != '"') bad("unclosed string", at);
      out.push_back(Node{Node::kText, unescape(expr.substr(1, expr.size() - 2), at + 1), {}, {}});
      continue;
    }
    out.push_back(Node{Node::kPath, "", parse_path(expr, at), {}});
  }
  if (in_range) bad("{range} without {end}", t.size());
  return out;
}

std::vector<const nlohmann::json*> evaluate(const Path& p, const nlohmann::json& root, const nlohmann::json& cur) {
  std::vector<const nlohmann::json*> at{p.from_root ? &root : &cur};
  for (const Step& s : p.steps) {
    std::vector<const nlohmann::json*> next;
    for (const nlohmann::json* j : at) {
      switch (s.kind) {
        case Step::kField:
          if (j->is_object())
            if (auto it = j->find(s.field); it != j->end()) next.push_back(&*it);
          break;
        case Step::kIndex:
          if (j->is_array()) {
            long n = static_cast<long>(j->size());
            long k = s.index < 0 ? n + s.index : s.index;
            if (k >= 0 && k < n) next.push_back(&(*j)[static_cast<std::size_t>(k)]);
          }
          break;
        case Step::kAll:
          if (j->is_array())
            for (const auto& e : *j) next.push_back(&e);
          else if (j->is_object())
            for (const auto& [k, v] : j->items()) next.push_back(&v);
          break;
      }
    }
    at = std::move(next);
  }
  return at;
}

std::string text_of(const nlohmann::json& j) {
  return j.is_string() ? j.get<std::string>() : j.dump();
}

void render_nodes(const std::vector<Node>& nodes, const nlohmann::json& root, const nlohmann::json& cur,
                  std::string& out) {
  for (const Node& n : nodes) {
    switch (n.kind) {
      case Node::kText: out += n.text; break;
      case Node::kPath: {
        auto results = evaluate(n.path, root, cur);
        for (std::size_t i = 0; i < results.size(); ++i) {
          if (i) out += ' ';
          out += text_of(*results[i]);
        }
        break;
      }
      case Node::kRange: {
        auto results = evaluate(n.path, root, cur);
        if (results.size() == 1 && results[0]->is_array()) {
          for (const auto& e : *results[0]) render_nodes(n.body, root, e, out);
        } else {
          for (const nlohmann::json* e : results) render_nodes(n.body, root, *e, out);
        }
        break;
      }
    }
  }
}

}  // namespace

JsonPathTemplate JsonPathTemplate::parse(const std::string& text) {
  JsonPathTemplate t;
  std::size_t i = 0;
  t.nodes_ = parse_nodes(text, i, false);
  if (t.nodes_.empty()) throw UsageError("-o jsonpath: empty template (e.g. -o jsonpath='{.src.pod}')");
  return t;
}

std::string JsonPathTemplate::render(const nlohmann::json& root) const {
  std::string out;
  render_nodes(nodes_, root, root, out);
  return out;
}

}  // namespace netring::cli
