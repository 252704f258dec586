#include "tests/testing/skip_policy.hpp"

#include <sys/utsname.h>

#include <array>
#include <charconv>

namespace netring::testing {

namespace {

// Add an entry only for a kernel feature the test needs and the kernel may
// lack; the agent itself falls back on such kernels, and that fallback has a
// test of its own that runs everywhere.
constexpr std::array kAllowed{
    AllowedSkip{"TcHook.TcxAttachesAtTheHeadAndDetachesCleanly", "kernel without tcx", {6, 6}, "tcx arrived in 6.6"},
    AllowedSkip{
        "*/TcxCoexistence.OursRunsFirstAndTheOtherStillDecides/*", "kernel without tcx", {6, 6}, "tcx arrived in 6.6"},
    AllowedSkip{"*/DatapathLifecycle.SigkillThenRestartThenCleanShutdown/tcx",
                "kernel without tcx",
                {6, 6},
                "tcx arrived in 6.6"},
    AllowedSkip{"XdpMultiBuffer.JumboFramesArriveWhole",
                "kernel without AF_XDP multi-buffer",
                {6, 6},
                "AF_XDP multi-buffer (XDP_USE_SG) arrived in 6.6"},
};

std::optional<int> leading_number(std::string_view& s) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p == s.data()) return std::nullopt;
  s.remove_prefix(static_cast<std::size_t>(p - s.data()));
  return v;
}

}  // namespace

std::optional<KernelVersion> KernelVersion::parse(std::string_view release) {
  auto major = leading_number(release);
  if (!major || release.empty() || release.front() != '.') return std::nullopt;
  release.remove_prefix(1);
  auto minor = leading_number(release);
  if (!minor) return std::nullopt;
  return KernelVersion{*major, *minor};
}

KernelVersion KernelVersion::running() {
  struct utsname u {};
  if (::uname(&u) != 0) return {};
  return parse(u.release).value_or(KernelVersion{});
}

std::string KernelVersion::str() const {
  return std::to_string(major) + "." + std::to_string(minor);
}

std::span<const AllowedSkip> allowed_skips() {
  return kAllowed;
}

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative wildcard match with backtracking to the last '*'.
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

const AllowedSkip* find_allowed_skip(std::string_view test, std::string_view message, KernelVersion kernel) {
  for (const AllowedSkip& a : kAllowed) {
    if (kernel < a.below && glob_match(a.test, test) && message.find(a.reason) != std::string_view::npos) return &a;
  }
  return nullptr;
}

}  // namespace netring::testing
