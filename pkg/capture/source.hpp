// One capture interface for both backends (AF_XDP and AF_PACKET TPACKET_V3).
//
// A Source yields packets in batches of views into its own memory (UMEM
// frames or ring blocks); the views stay valid until release(). The hot path
// is one virtual call per batch, never per packet, and never allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "pkg/common/error.hpp"

namespace netring::capture {

enum class Backend : std::uint8_t { kAfXdp, kAfPacket };
const char* to_string(Backend b);

enum class Direction : std::uint8_t { kUnknown, kIngress, kEgress };

struct PacketView {
  const std::byte* data = nullptr;
  std::uint32_t len = 0;           // bytes captured (valid at data)
  std::uint32_t orig_len = 0;      // length on the wire
  std::uint64_t timestamp_ns = 0;  // CLOCK_REALTIME, 0 if the backend has none
  std::uint32_t ifindex = 0;
  std::uint32_t queue = 0;
  Direction direction = Direction::kUnknown;
};

// Running totals: never reset by reading (PACKET_STATISTICS and
// XDP_STATISTICS semantics are folded in by the backends).
struct Stats {
  std::uint64_t packets = 0;       // delivered to the caller
  std::uint64_t bytes = 0;         // captured bytes delivered
  std::uint64_t kernel_drops = 0;  // dropped by the kernel: ring full / rx_dropped
  std::uint64_t ring_full = 0;     // AF_XDP rx_ring_full / AF_PACKET freeze_q_cnt
  std::uint64_t fill_empty = 0;    // AF_XDP rx_fill_ring_empty_descs
  std::uint64_t invalid = 0;       // invalid descriptors / malformed frames dropped
};

class Source {
 public:
  virtual ~Source() = default;
  Source() = default;
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  // Fills `out` with up to out.size() packets without blocking; returns how
  // many. Views stay valid until release().
  virtual Result<std::size_t> poll_batch(std::span<PacketView> out) = 0;
  // Gives the memory of the last batch back to the kernel.
  virtual void release() = 0;
  // Blocks until packets may be ready or timeout_ms passes (poll(2)).
  virtual Result<void> wait(int timeout_ms) = 0;
  // For the caller's own epoll: readable when packets may be ready.
  virtual int fd() const = 0;
  virtual Stats stats() = 0;
  virtual Backend backend() const = 0;
  // "AF_XDP veth0 queue 0 copy mode", for logs and /api/v1/status.
  virtual std::string describe() const = 0;
  // Bytes of packet buffer this source registered with the kernel (its
  // share of an AF_XDP UMEM); 0 for sockets whose buffers the kernel owns.
  virtual std::size_t umem_bytes() const { return 0; }
  // AF_XDP bound in zero-copy mode (the driver's own buffers are the UMEM).
  virtual bool zero_copy() const { return false; }
};

// What the caller wants; open() decides how.
struct OpenRequest {
  enum class Mode : std::uint8_t {
    kAuto,           // AF_XDP if it can serve, else AF_PACKET, reason recorded
    kForceAfXdp,     // AF_XDP or an error
    kForceAfPacket,  // AF_PACKET only
  };
  std::string interface;
  std::vector<std::uint32_t> queues{0};  // AF_XDP: one socket per queue, shared UMEM
  Mode mode = Mode::kAuto;
  // AF_XDP: attach netring's XSKMAP redirect program (native, no generic
  // fallback when require_native_xdp: a capture port without driver XDP
  // goes to AF_PACKET fanout instead).
  bool attach_redirect_program = true;
  bool require_native_xdp = false;
  std::uint32_t sample_rate = 1;  // AF_PACKET: 1-in-N socket filter; 1 = all
  bool allow_ebpf_filter = true;  // false: classic BPF (SKF_AD_RANDOM) filter
  std::uint32_t snap_len = 0;     // 0 = whole packet
  std::uint32_t frame_size = 4096;
  std::uint32_t ring_size = 2048;  // AF_XDP descriptors / AF_PACKET frames (approx.)
  std::uint32_t fill_size = 0;     // AF_XDP fill ring (and the socket's frames); 0: 2 x ring_size
};

struct Opened {
  std::vector<std::unique_ptr<Source>> sources;  // one per queue (AF_XDP) or fanout member
  Backend backend = Backend::kAfXdp;
  std::string fallback_reason;  // empty when the preferred backend serves
};

Result<Opened> open(const OpenRequest& req);

}  // namespace netring::capture
