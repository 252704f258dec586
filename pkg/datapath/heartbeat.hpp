// The agent's heartbeat: a CLOCK_MONOTONIC timestamp in a map the sampler
// checks before every clone, so a sampler left on a classic clsact hook by a
// crashed agent stops cloning by itself once the timeout passes.
#pragma once

#include <cstdint>

#include "pkg/common/error.hpp"

namespace netring::datapath {

class Heartbeat {
 public:
  explicit Heartbeat(int map_fd) : map_fd_(map_fd) {}

  // Writes "now"; call it more often than the configured timeout.
  Result<void> beat() { return write(now_ns()); }
  // Writes 0: cloning stops at once (counting goes on).
  Result<void> stop() { return write(0); }
  Result<void> write(std::uint64_t monotonic_ns);

  // CLOCK_MONOTONIC in ns: what bpf_ktime_get_ns() returns.
  static std::uint64_t now_ns();

 private:
  int map_fd_;
};

}  // namespace netring::datapath
