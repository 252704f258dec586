// Which tests may skip, on which kernels, and why.
//
// A GTEST_SKIP still makes ctest report a pass, so a test that cannot run on
// a kernel would otherwise vanish from the results. Every test binary runs
// through tests/testing/main/netring_gtest_main.cpp, which checks each skip
// against this policy: a skip the policy allows is printed by name with its
// reason, any other skip fails the binary. The kernel matrix
// (scripts/kernel-matrix.sh) collects those lines per kernel.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace netring::testing {

struct KernelVersion {
  int major = 0;
  int minor = 0;
  // "6.1.0-57-cloud-amd64" → 6.1; nothing for a string that does not start
  // with "<major>.<minor>".
  static std::optional<KernelVersion> parse(std::string_view release);
  // uname(2)'s release of the running kernel.
  static KernelVersion running();
  std::string str() const;
  auto operator<=>(const KernelVersion&) const = default;
};

struct AllowedSkip {
  const char* test;     // full gtest name, '*' matches any run of characters
  const char* reason;   // the skip message must contain this
  KernelVersion below;  // allowed only on kernels older than this
  const char* why;      // the feature and the kernel version it arrived in
};

// The whole policy: nothing else may skip, on any kernel.
std::span<const AllowedSkip> allowed_skips();

// The entry that allows `test` (Suite.Name, with any parameter suffix) to skip
// with `message` on `kernel`, or null when that skip must fail the run.
const AllowedSkip* find_allowed_skip(std::string_view test, std::string_view message, KernelVersion kernel);

// '*' globbing, nothing else special.
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace netring::testing
