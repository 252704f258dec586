// Query strings for the API: values percent-encoded (RFC 3986 unreserved
// characters kept), in the order added.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace netring::cli {

class Query {
 public:
  Query& add(const std::string& name, const std::string& value) {
    params_.emplace_back(name, value);
    return *this;
  }
  // "path?a=1&b=x%2Fy" ("path" alone without parameters).
  std::string target(const std::string& path) const;

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

std::string percent_encode(const std::string& s);

}  // namespace netring::cli
