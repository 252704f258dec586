// Field and label selectors as the Kubernetes API server parses and applies
// them (k8s.io/apimachinery fields and labels packages), for the FAKE API
// server (fake_kube_api.hpp):
//   field:  "a=b,c!=d" (also "=="); only the fields a resource declares
//           selectable; an unknown one is refused with
//           "field label not supported: <field>".
//   label:  "k=v", "k==v", "k!=v", "k in (a,b)", "k notin (a,b)", "k", "!k",
//           comma-separated, all must hold; "k!=v" and "notin" hold for an
//           object without the label, as in the API.
// Values may escape ',', '=' and '\' with a backslash (fields.EscapeValue).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace netring::testing {

// A field or label set of one object: (name, value) pairs.
using Attrs = std::vector<std::pair<std::string, std::string>>;
const std::string* attr(const Attrs& a, std::string_view name);

class FieldSelector {
 public:
  // `selectable`: the fields the resource supports. Error text on failure.
  static std::optional<FieldSelector> parse(std::string_view text, const std::vector<std::string>& selectable,
                                            std::string& error);
  bool empty() const { return reqs_.empty(); }
  bool matches(const Attrs& fields) const;
  // The value of an "=" requirement on `field`, if there is one (the watch
  // cache serves such a selector on spec.nodeName from an index).
  std::optional<std::string> exact(std::string_view field) const;

 private:
  struct Req {
    std::string field;
    bool equal = true;
    std::string value;
  };
  std::vector<Req> reqs_;
};

class LabelSelector {
 public:
  static std::optional<LabelSelector> parse(std::string_view text, std::string& error);
  bool empty() const { return reqs_.empty(); }
  bool matches(const Attrs& labels) const;

 private:
  enum class Op { kEq, kNe, kIn, kNotIn, kExists, kNotExists };
  struct Req {
    std::string key;
    Op op = Op::kEq;
    std::vector<std::string> values;
  };
  std::vector<Req> reqs_;
};

}  // namespace netring::testing
