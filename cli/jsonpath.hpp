// -o jsonpath=TEMPLATE: kubectl's JSONPath template language, the part of it
// that fits one JSON object at a time (a flow, a top group, a status):
//   text{.src.pod}        fields, printed as text (strings raw, the rest as JSON)
//   {.tcp_flags[0]}       an element; [*] every element, [-1] the last
//   {['field name']}      a field by its quoted name
//   {$.a} {@.a}           from the object / from the current range element
//   {range .interfaces[*]}{@}{", "}{end}   once per element
//   {"\n"}                a string (\n \t \\ \" escapes)
// Several results of one expression are joined by a space; a missing field
// prints nothing, as kubectl does by default.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace netring::cli {

class JsonPathTemplate {
 public:
  // Throws UsageError naming the position of a mistake.
  static JsonPathTemplate parse(const std::string& text);
  std::string render(const nlohmann::json& root) const;

  struct Step {
    enum Kind { kField, kIndex, kAll } kind = kField;
    std::string field;
    long index = 0;
  };
  struct Path {
    bool from_root = false;  // $ (else the current element)
    std::vector<Step> steps;
  };
  struct Node {
    enum Kind { kText, kPath, kRange } kind = kText;
    std::string text;
    Path path;
    std::vector<Node> body;  // range
  };

 private:
  std::vector<Node> nodes_;
};

}  // namespace netring::cli
