#include "tests/testing/base64.hpp"

#include <openssl/evp.h>

#include <cstddef>

namespace netring::testing {

std::string b64(const std::string& s) {
  std::string out(4 * ((s.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string unb64(const std::string& s) {
  std::string out(s.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  if (n < 0) return "";
  out.resize(static_cast<size_t>(n));
  // EVP_DecodeBlock counts the padding bytes as decoded zeros.
  while (!out.empty() && out.back() == '\0') out.pop_back();
  return out;
}

}  // namespace netring::testing
