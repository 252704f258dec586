// Creates an object inside a namespace and expects that to succeed: the
// setup step the netns tests share for every owner of links, hooks and
// sockets (Datapath, MirrorLink, CapturePort, ...).
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "tests/testing/netns.hpp"

namespace netring::testing {

// Runs `create` (returning a Result<T>) inside `ns`, so that what it makes
// belongs to that namespace. On failure records a non-fatal gtest failure
// carrying the error's message and returns nothing; callers ASSERT on the
// returned optional.
template <class F>
auto ok_within(const Netns& ns, F&& create)
    -> std::optional<std::remove_cvref_t<decltype(std::declval<std::invoke_result_t<F>&>().value())>> {
  std::optional<std::remove_cvref_t<decltype(std::declval<std::invoke_result_t<F>&>().value())>> out;
  std::string err;
  ns.within([&] {
    auto r = create();
    if (r)
      out.emplace(std::move(r).value());
    else
      err = r.error().message();
  });
  EXPECT_TRUE(out.has_value()) << err;
  return out;
}

}  // namespace netring::testing
