// A Datapath created inside a test namespace, so its mirror link, hooks and
// programs live (and are cleaned up) there.
#pragma once

#include <memory>

#include "pkg/datapath/datapath.hpp"
#include "tests/testing/netns.hpp"

namespace netring::testing {

// nullptr (and a non-fatal gtest failure with the error) if creation fails.
std::unique_ptr<datapath::Datapath> make_datapath(const Netns& ns, const datapath::DatapathOptions& o);

// Destroys `d` inside `ns`: tearing down removes the namespace's links.
void destroy_datapath(const Netns& ns, std::unique_ptr<datapath::Datapath>& d);

}  // namespace netring::testing
