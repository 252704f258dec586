// Running test code without some capabilities: root keeps uid 0, but the
// kernel checks capabilities, not the uid.
#pragma once

#include <functional>
#include <initializer_list>
#include <string>

namespace netring::testing {

// Clears `caps` (CAP_*) from the calling thread's effective, permitted and
// inheritable sets (capabilities are per thread; threads it starts later
// inherit them). False when capget/capset failed.
bool drop_caps(std::initializer_list<int> caps);

// Runs fn in a forked child (fn may drop capabilities for good there);
// returns what fn returned ("" = success), what it threw, or "child died".
std::string in_child(const std::function<std::string()>& fn);

}  // namespace netring::testing
