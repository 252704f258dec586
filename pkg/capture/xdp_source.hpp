// The AF_XDP side of capture::open(): sockets (one per queue, one shared
// UMEM) behind the Source interface. Implemented next to pkg/xdp/.
#pragma once

#include "pkg/capture/source.hpp"

namespace netring::capture {

// Opens AF_XDP sources for req.interface / req.queues. The error explains
// why AF_XDP cannot serve (kernel without AF_XDP, no permission, driver
// without native XDP when required), which open() records as the fallback
// reason.
Result<std::vector<std::unique_ptr<Source>>> open_xdp(const OpenRequest& req);

}  // namespace netring::capture
