// The `capture` mode: a port that only carries copies of traffic (a switch
// SPAN/TAP port, a cloud traffic-mirroring target). Nothing there belongs
// to a pod, so the XSKMAP redirect program may take every frame: it is
// attached natively, one AF_XDP socket per RX queue on a shared UMEM. A
// driver without native XDP gets TPACKET_V3 with fanout instead (generic
// XDP would copy every frame into an skb first and gain nothing), and the
// reason is kept.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pkg/capture/source.hpp"
#include "pkg/datapath/sample_stream.hpp"

namespace netring::datapath {

struct CapturePortOptions {
  std::string interface;
  std::uint32_t queues = 0;       // 0: every RX queue of the port
  std::uint32_t snap_len = 128;   // bytes kept per frame
  std::uint32_t sample_rate = 1;  // TPACKET_V3 only: 1-in-N socket filter
  std::uint32_t frame_size = 2048;
  std::uint32_t ring_size = 2048;
};

struct CapturePort {
  std::vector<std::unique_ptr<SampleStream>> streams;  // direct mode: frames as captured
  capture::Backend backend = capture::Backend::kAfXdp;
  std::string fallback_reason;  // empty on AF_XDP
};

// In the calling thread's network namespace.
Result<CapturePort> open_capture_port(const CapturePortOptions& opts);

}  // namespace netring::datapath
