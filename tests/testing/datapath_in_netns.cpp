#include "tests/testing/datapath_in_netns.hpp"

#include <utility>

#include "tests/testing/ok_within.hpp"

namespace netring::testing {

std::unique_ptr<datapath::Datapath> make_datapath(const Netns& ns, const datapath::DatapathOptions& o) {
  auto d = ok_within(ns, [&] { return datapath::Datapath::create(o); });
  return d ? std::move(*d) : nullptr;
}

void destroy_datapath(const Netns& ns, std::unique_ptr<datapath::Datapath>& d) {
  ns.within([&] { d.reset(); });
}

}  // namespace netring::testing
