#include "pkg/capture/source.hpp"

namespace netring::capture {

const char* to_string(Backend b) {
  switch (b) {
    case Backend::kAfXdp: return "AF_XDP";
    case Backend::kAfPacket: return "AF_PACKET";
  }
  return "unknown";
}

}  // namespace netring::capture
