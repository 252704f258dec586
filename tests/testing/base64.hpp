// Base64 (RFC 4648, with padding) for the Kubernetes fakes and tests:
// kubeconfig *-data fields and list continue tokens carry it.
#pragma once

#include <string>

namespace netring::testing {

std::string b64(const std::string& s);

// "" when `s` is not valid base64.
std::string unb64(const std::string& s);

}  // namespace netring::testing
