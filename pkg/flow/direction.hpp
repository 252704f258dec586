// Which way a packet crossed the hook that saw it, as the kernel names the
// hook: ingress is what the interface received. (The agent turns it into
// "leaving / arriving at the reporting endpoint".)
#pragma once

#include <cstdint>

namespace netring::flow {

enum class Direction : std::uint8_t { kUnknown, kIngress, kEgress };

}  // namespace netring::flow
