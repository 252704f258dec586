// The API answers only requests addressed to a loopback name or an IP
// address. Its listener is on loopback and reached through
// `kubectl port-forward`; the page it serves runs in a browser, and a web
// site whose DNS name is re-pointed at 127.0.0.1 after its page loaded (DNS
// rebinding) would otherwise read the flows as if it were same-origin. Such
// a request carries the site's name in Host; a user's carries localhost or
// an address.
#pragma once

#include <string_view>

namespace netring::agent::api {

// `host` is the Host header: name or address, optional :port, IPv6 in [].
// Allowed: an IPv4 or IPv6 literal, "localhost", "*.localhost" (RFC 6761:
// resolved to loopback by the client itself), or no Host at all (HTTP/1.0
// tools; browsers always send one).
bool host_header_allowed(std::string_view host);

}  // namespace netring::agent::api
