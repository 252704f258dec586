// The receive side the AF_XDP traffic tests share: netring's redirect
// program on an interface and one AF_XDP socket on its queue 0, registered
// in the program's XSKMAP.
#pragma once

#include <optional>

#include "pkg/xdp/builder.hpp"
#include "pkg/xdp/redirect_program.hpp"
#include "pkg/xdp/xdp_socket.hpp"
#include "tests/testing/netns.hpp"

namespace netring::testing {

struct RedirectedRx {
  // Declared first so it is destroyed last, after the socket it redirects to.
  xdp::RedirectProgram prog;
  xdp::XdpSocket rx;
};

// Attaches the program to `ifindex` and builds `rx` (which names the
// interface, queue 0) inside `ns`. On failure records a non-fatal gtest
// failure naming the step and its error, and returns nothing.
std::optional<RedirectedRx> redirected_rx(const Netns& ns, int ifindex, const xdp::XdpSocketBuilder& rx,
                                          const xdp::RedirectOptions& opts = {});

}  // namespace netring::testing
