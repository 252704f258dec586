#include "tests/testing/redirected_rx.hpp"

#include <gtest/gtest.h>

#include <utility>

namespace netring::testing {

std::optional<RedirectedRx> redirected_rx(const Netns& ns, int ifindex, const xdp::XdpSocketBuilder& rx,
                                          const xdp::RedirectOptions& opts) {
  auto prog = ns.within([&] { return xdp::RedirectProgram::attach(static_cast<std::uint32_t>(ifindex), opts); });
  if (!prog) {
    ADD_FAILURE() << "redirect program: " << prog.error().message();
    return std::nullopt;
  }
  auto sock = ns.within([&] { return rx.build(); });
  if (!sock) {
    ADD_FAILURE() << "AF_XDP socket: " << sock.error().message();
    return std::nullopt;
  }
  if (auto r = prog->register_socket(0, sock->fd()); !r) {
    ADD_FAILURE() << "register queue 0: " << r.error().message();
    return std::nullopt;
  }
  return RedirectedRx{std::move(prog).value(), std::move(sock).value()};
}

}  // namespace netring::testing
