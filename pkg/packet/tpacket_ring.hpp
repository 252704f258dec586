// TPACKET_V3 RX ring: the kernel fills whole blocks of variable-length
// packets and hands each block to user space by flipping its block_status to
// TP_STATUS_USER; user space reads every packet of the block and flips it back
// to TP_STATUS_KERNEL. A block is closed when full or when the retire timer
// (tp_retire_blk_tov) fires with at least one packet in it, so a quiet link
// still delivers within the timeout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "pkg/common/error.hpp"
#include "pkg/common/mapping.hpp"
#include "pkg/packet/log_sink.hpp"

namespace netring::packet {

struct RingGeometry {
  std::uint32_t block_size = 1U << 20;  // bytes; a power of two and a multiple of the page size
  std::uint32_t block_count = 16;
  // TPACKET_V3 packs packets of any size into a block; the kernel only uses
  // frame_size to check frame_nr. It must hold a tpacket3_hdr + sockaddr_ll
  // and be a multiple of TPACKET_ALIGNMENT.
  std::uint32_t frame_size = 2048;
  // tp_retire_blk_tov; 0 lets the kernel pick from the link speed. It is the
  // latency bound, give or take the kernel's timer granularity (1 ms closed
  // a block every ~2.3 ms on a HZ=250 kernel): a packet waits that long in a
  // block that does not fill. It also sets the CPU a quiet-to-moderate link costs, because the
  // reader sleeps in poll() until a block closes and each wake-up has a
  // fixed price (poll, the sleep and the wake-up's context switches:
  // 12-18 us on a loaded 2-vCPU VM, bench/tpacket_bench prints it), three to
  // four times the walk of the ~600 packets a block holds there. At 1 ms
  // that is 1-2 % of a core per socket whenever traffic flows; at 50 ms it
  // is negligible while flow records are still current. Readers
  // that need packets sooner (interactive capture) set it lower and pay for
  // it. Blocks that fill first close early, so a larger block_size only
  // lowers the wake-ups per packet at high rates; it never adds latency.
  std::uint32_t retire_timeout_ms = 50;

  std::size_t total_bytes() const { return static_cast<std::size_t>(block_size) * block_count; }
  std::uint32_t frame_count() const { return block_count * (block_size / frame_size); }
};

// Checks what the kernel would reject with a bare EINVAL, plus netring's own
// rule that blocks are powers of two (the kernel allocates each block as
// 2^order pages, so any other size wastes the remainder).
Result<void> validate(const RingGeometry& geo);

// The next smaller ring to try after ENOMEM: halve the block count down to 2,
// then halve the block size down to one page (keeping it >= frame_size).
// nullopt when nothing smaller is left.
std::optional<RingGeometry> shrink(const RingGeometry& geo);

// Runs `try_alloc` (returns 0 or an errno) on `geo`, then on ever smaller
// geometries while it fails with ENOMEM, logging each retry. Returns the
// geometry that succeeded.
Result<RingGeometry> allocate_shrinking(const RingGeometry& geo,
                                        const std::function<int(const RingGeometry&)>& try_alloc, const LogSink& log,
                                        const std::string& what);

// One packet of a block, valid until the ring's release().
struct RingPacket {
  const std::byte* data = nullptr;
  std::uint32_t snaplen = 0;       // bytes at data
  std::uint32_t len = 0;           // original length on the wire
  std::uint64_t timestamp_ns = 0;  // CLOCK_REALTIME
  std::uint32_t status = 0;        // tp_status: TP_STATUS_VLAN_VALID, TP_STATUS_TS_RAW_HARDWARE, TP_STATUS_LOSING...
  std::uint32_t ifindex = 0;
  // An accelerated VLAN tag is taken out of the frame by the driver (or by
  // veth/bridge on tx) and carried in the skb; the kernel reports it here and
  // the bytes at `data` do NOT contain it. netring exposes it instead of
  // re-inserting it, so views stay zero-copy; a consumer that needs the
  // on-wire bytes inserts {tpid, tci} after the two MAC addresses.
  std::uint16_t vlan_tci = 0;
  std::uint16_t vlan_tpid = 0;  // valid with vlan_tci; 0x8100 if the kernel gave no TPID
  std::uint8_t pkttype = 0;     // sll_pkttype: PACKET_HOST, PACKET_OUTGOING, ...

  bool vlan_valid() const;
  bool hardware_timestamp() const;
};

class TpacketRing {
 public:
  // Sets TPACKET_V3 and PACKET_RX_RING on `fd` (an AF_PACKET socket that
  // the caller owns and keeps open longer than the ring) and maps the ring.
  // On ENOMEM the ring is shrunk and retried, with a log line.
  static Result<TpacketRing> create(int fd, const RingGeometry& geo, const LogSink& log = {},
                                    const std::string& what = {});

  TpacketRing(TpacketRing&&) noexcept = default;
  TpacketRing& operator=(TpacketRing&&) noexcept = default;
  TpacketRing(const TpacketRing&) = delete;
  TpacketRing& operator=(const TpacketRing&) = delete;
  ~TpacketRing() = default;

  // Fills `out` with the next packets, without blocking, continuing across
  // blocks the kernel has handed over. Every block it walks past stays ours
  // until release(). Returns how many packets were written.
  std::size_t next_batch(std::span<RingPacket> out);
  // Hands the blocks whose packets were all returned back to the kernel.
  // Invalidates the views of those packets.
  void release();
  // True when the block at the read position belongs to user space.
  bool ready() const;

  const RingGeometry& geometry() const { return geo_; }
  std::uint32_t blocks_held() const { return held_; }
  // block_status of the block read last: TP_STATUS_BLK_TMO when the retire
  // timer closed it before it filled up.
  std::uint32_t last_block_status() const { return last_block_status_; }

 private:
  TpacketRing(Mapping map, const RingGeometry& geo) : map_(std::move(map)), geo_(geo) {}
  std::byte* block(std::uint32_t i) const { return map_.bytes() + static_cast<std::size_t>(i) * geo_.block_size; }

  Mapping map_;
  RingGeometry geo_;
  std::uint32_t cur_ = 0;         // block being read (or to read next)
  std::uint32_t first_held_ = 0;  // oldest block not yet given back
  std::uint32_t held_ = 0;        // fully read blocks not yet given back
  bool in_block_ = false;
  const std::byte* next_pkt_ = nullptr;
  std::uint32_t left_ = 0;  // packets left in the current block
  std::uint32_t last_block_status_ = 0;
};

}  // namespace netring::packet
