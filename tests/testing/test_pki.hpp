// A throw-away certificate authority made at test time with OpenSSL, for the
// HTTPS tests: no key or certificate is ever checked into the repository.
#pragma once

#include <string>
#include <vector>

namespace netring::testing {

struct KeyPair {
  std::string cert_pem;
  std::string key_pem;
};

class TestCa {
 public:
  explicit TestCa(const std::string& common_name = "netring-test-ca");
  const KeyPair& ca() const { return ca_; }
  // A leaf certificate (EC P-256, SHA-256) signed by this CA; `dns`/`ips` become subjectAltNames.
  KeyPair issue(const std::string& common_name, const std::vector<std::string>& dns = {},
                const std::vector<std::string>& ips = {}) const;

 private:
  KeyPair ca_;
};

}  // namespace netring::testing
