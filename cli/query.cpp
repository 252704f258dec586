#include "cli/query.hpp"

#include <cctype>

namespace netring::cli {

std::string percent_encode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string Query::target(const std::string& path) const {
  std::string out = path;
  char sep = '?';
  for (const auto& [k, v] : params_) {
    out += sep;
    out += percent_encode(k) + "=" + percent_encode(v);
    sep = '&';
  }
  return out;
}

}  // namespace netring::cli
