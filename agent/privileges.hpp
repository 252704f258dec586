// The capabilities the agent cannot run without, checked before anything is
// opened so the operator reads which one is missing rather than an EPERM
// from deep inside a netlink or socket call.
#pragma once

#include <string>
#include <vector>

namespace netring::agent {

// Names of required capabilities missing from the effective set
// (CAP_NET_ADMIN: hooks, links, conntrack; CAP_NET_RAW: capture sockets).
// CAP_BPF and CAP_PERFMON are optional: without them the data path falls to
// its no-BPF rung and says why.
std::vector<std::string> missing_capabilities();

}  // namespace netring::agent
