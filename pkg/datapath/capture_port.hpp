// The `capture` mode: a port that only carries copies of traffic (a switch
// SPAN/TAP port, a cloud traffic-mirroring target). Nothing there belongs
// to a pod, so netring's XSKMAP redirect program may take every frame: it
// is attached straight to the port (native XDP where the driver has it,
// generic otherwise, the reason kept), counts every frame exactly, keeps 1
// in sample_rate of them and feeds one AF_XDP socket per RX queue on one
// shared UMEM (zero-copy where the driver offers it). Where no XDP program
// can be attached (no CAP_BPF, or native required and missing) the port is
// read with TPACKET_V3 in a fanout group with a sampling socket filter, and
// the device's own counters count its frames.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pkg/capture/source.hpp"
#include "pkg/datapath/sample_stream.hpp"

namespace netring::datapath {

enum class CaptureXdpMode : std::uint8_t {
  kAuto,     // native XDP, generic where the driver has none
  kNative,   // native XDP or TPACKET_V3
  kGeneric,  // generic (SKB-mode) XDP
};
const char* to_string(CaptureXdpMode m);

struct CapturePortOptions {
  std::string interface;
  std::uint32_t queues = 0;       // 0: every RX queue of the port
  std::uint32_t snap_len = 128;   // bytes of each frame handed on
  std::uint32_t sample_rate = 1;  // 1-in-N frames (1: all)
  CaptureXdpMode xdp_mode = CaptureXdpMode::kAuto;
  bool allow_xdp = true;         // false: TPACKET_V3 straight away
  std::uint32_t frame_size = 0;  // AF_XDP UMEM frame; 0: from the port's MTU
  std::uint32_t ring_size = 0;   // AF_XDP RX ring per queue (fill ring the same); 0: kDefaultCaptureRing
  // One UMEM shared by the port's sockets (false), or one per queue (true).
  // bench/capture_port_bench's RX2Q rows compare the two
  // (bench/results/REPORT.md); the default follows them.
  bool umem_per_queue = false;
};

// RX descriptors per queue by default, and as many frames in the fill ring
// (16 MiB of UMEM per queue with 2048-byte frames): deep enough that a
// receiver woken late absorbs the generator's highest rate on veth without
// rx_ring_full (bench/capture_port_bench; bench/results/REPORT.md, figure
// 11). A fill ring deeper than the RX ring would add frames, not capacity:
// the RX ring is where a slow receiver's packets wait.
inline constexpr std::uint32_t kDefaultCaptureRing = 8192;

// Frames as the port received them (all of them, sampled or not) and what
// the XDP program did with them. Running totals since the port was opened.
struct CapturePortCounts {
  std::uint64_t frames = 0;
  std::uint64_t bytes = 0;
  std::uint64_t sampled_out = 0;    // left out by sampling (XDP only)
  std::uint64_t redirected = 0;     // handed to a socket (XDP only)
  std::uint64_t redirect_miss = 0;  // no socket on the queue (XDP only)
};

class CapturePortCounter {
 public:
  virtual ~CapturePortCounter() = default;
  virtual Result<CapturePortCounts> read() const = 0;
};

struct CapturePort {
  std::vector<std::unique_ptr<SampleStream>> streams;  // one per queue / fanout member, direct mode
  capture::Backend backend = capture::Backend::kAfXdp;
  std::string xdp_mode;          // "native", "generic"; "" on TPACKET_V3
  std::string reason;            // why this mode and backend (empty: native XDP as preferred)
  bool zero_copy = false;        // every socket bound zero-copy
  std::uint32_t queues = 0;      // sockets / fanout members
  std::uint32_t frame_size = 0;  // AF_XDP UMEM frame (0 on TPACKET_V3)
  std::uint32_t ring_size = 0;
  std::shared_ptr<const CapturePortCounter> counter;  // exact frame counts
};

// In the calling thread's network namespace.
Result<CapturePort> open_capture_port(const CapturePortOptions& opts);

}  // namespace netring::datapath
