// The public AF_XDP socket: one interface queue, its four rings, and its
// slice of a (possibly shared) UMEM. Built by XdpSocketBuilder.
//
// RX: receive() hands out a batch as a span of packet views into UMEM
// frames; release() gives the frames back to the kernel through the fill
// ring, which therefore stays stocked in batches without ever running dry
// by our doing. With multi-buffer (XDP_USE_SG) a packet may span several
// frames (XDP_PKT_CONTD on all but the last); a batch never ends in the
// middle of one, and a packet with an invalid fragment is dropped whole and
// counted. for_each_packet() is the single-pass alternative for callers
// that finish with each packet inside a callback.
//
// TX: tx_reserve() lends frames, the caller writes them and tx_submit()
// queues them and kicks the kernel when the ring asks for it; completions
// are reaped on every TX call and their frames recycled.
//
// Move-only; the fd is exposed for epoll and for users who attach their own
// XDP program and register it in their own XSKMAP.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "pkg/common/error.hpp"
#include "pkg/common/fd.hpp"
#include "pkg/xdp/frame_allocator.hpp"
#include "pkg/xdp/ring.hpp"
#include "pkg/xdp/ring_mapping.hpp"
#include "pkg/xdp/rx_assembler.hpp"
#include "pkg/xdp/socket.hpp"
#include "pkg/xdp/umem.hpp"
#include "pkg/xdp/xdp_packet.hpp"

namespace netring::xdp {

enum class BindMode : std::uint8_t {
  kAuto,      // neither flag: zero-copy where the driver can, copy otherwise
  kCopy,      // XDP_COPY
  kZeroCopy,  // XDP_ZEROCOPY, or an error
};
const char* to_string(BindMode m);

struct TxFrame {
  std::byte* data;         // write the packet here
  std::uint32_t capacity;  // bytes available at data
  std::uint32_t len;       // set by the caller before tx_submit()
  std::uint64_t addr;
};

struct SocketStats {
  // Ours.
  std::uint64_t rx_packets = 0;
  std::uint64_t rx_bytes = 0;
  std::uint64_t rx_fragments = 0;        // descriptors consumed
  std::uint64_t rx_invalid_packets = 0;  // dropped whole: a fragment outside the UMEM / frame
  std::uint64_t rx_kicks = 0;
  std::uint64_t tx_packets = 0;
  std::uint64_t tx_bytes = 0;
  std::uint64_t tx_kicks = 0;
  std::uint64_t tx_completed = 0;
  // The kernel's XDP_STATISTICS.
  struct xdp_statistics kernel {};
};

class XdpSocket {
 public:
  XdpSocket(XdpSocket&&) noexcept = default;
  XdpSocket& operator=(XdpSocket&&) noexcept = default;
  XdpSocket(const XdpSocket&) = delete;
  XdpSocket& operator=(const XdpSocket&) = delete;
  ~XdpSocket() = default;

  int fd() const { return fd_; }
  std::uint32_t ifindex() const { return ifindex_; }
  const std::string& interface() const { return ifname_; }
  std::uint32_t queue() const { return queue_; }
  bool zero_copy() const { return zero_copy_; }
  bool multi_buffer() const { return sg_; }
  bool shares_umem() const { return shared_; }
  const std::shared_ptr<Umem>& umem() const { return umem_; }
  // "AF_XDP veth0 queue 0, copy mode, need_wakeup"
  std::string describe() const;

  // ---- RX ----
  // Up to max packets, without blocking; an empty span when none are ready
  // (the kernel is woken first if the fill ring asks for it). Views stay
  // valid until release() (or the next receive(), which releases first).
  Result<std::span<const RxPacket>> receive(std::uint32_t max = UINT32_MAX);
  void release();
  // Single-pass RX for callers that are done with a packet when fn returns:
  // calls fn(const RxPacket&) for up to max packets and recycles each frame
  // into the fill ring in the same pass, storing no views (the shape of
  // libxdp's consumer loop). Returns how many packets fn saw. Multi-buffer
  // sockets take the receive()/release() path underneath.
  template <class F>
  Result<std::uint32_t> for_each_packet(std::uint32_t max, F&& fn);
  // receive() for callers that build views of their own: calls
  // fn(data, len, total_len) for each packet of up to max, in one pass over
  // a checked copy of the descriptors (no RxPacket array in between); the
  // data stays valid until release(), as with receive(). Multi-buffer
  // sockets show each packet's first fragment and its total length.
  template <class F>
  Result<std::uint32_t> receive_each(std::uint32_t max, F&& fn);
  // poll(2) for readability.
  Result<bool> wait(int timeout_ms) const { return sys::wait_readable(fd_, timeout_ms, ifname_); }

  // ---- TX ----
  // Lends up to n frames (fewer when frames or ring slots are short).
  std::span<TxFrame> tx_reserve(std::uint32_t n);
  // Queues the first n lent frames (their len set), returns the rest, and
  // kicks the kernel if it asks for it.
  Result<std::uint32_t> tx_submit(std::uint32_t n);
  // Copies packets into frames and submits them; returns how many went.
  Result<std::uint32_t> send(std::span<const std::span<const std::byte>> packets);
  // Kicks the kernel while submitted descriptors wait, and reaps.
  Result<void> flush();
  std::uint32_t reap_completions();
  // Frames handed to the kernel for TX and not completed yet.
  std::uint32_t tx_outstanding() const { return tx_free_.capacity() - tx_free_.available(); }

  Result<SocketStats> stats() const;

 private:
  friend class XdpSocketBuilder;
  XdpSocket() = default;
  void refill();
  Result<std::uint32_t> rx_idle();  // nothing to receive: wake the kernel if it asks

  std::shared_ptr<Umem> umem_;
  UniqueFd own_fd_;  // empty when bound on the UMEM's registration socket
  int fd_ = -1;
  std::string ifname_;
  std::uint32_t ifindex_ = 0;
  std::uint32_t queue_ = 0;
  BindMode mode_ = BindMode::kAuto;
  bool zero_copy_ = false;
  bool need_wakeup_ = true;
  bool sg_ = false;
  bool shared_ = false;

  RingMapping rx_map_, tx_map_, fill_map_, comp_map_;
  RxRing rx_;
  TxRing tx_;
  FillRing fill_;
  CompletionRing comp_;

  // RX frames not in the kernel's hands nor the caller's (normally empty:
  // released frames go straight back into the fill ring), and free TX frames.
  FrameAllocator rx_free_;
  FrameAllocator tx_free_;
  std::uint32_t tx_data_offset_ = 0;  // tx_metadata_len

  // Per-batch scratch, sized once to the RX / TX ring.
  std::vector<RxPacket> packets_;
  std::vector<RxFragment> frags_;          // multi-buffer only
  std::vector<struct xdp_desc> rx_descs_;  // for_each_packet()'s checked copy of a batch; single-buffer only
  std::uint32_t rx_batch_idx_ = 0;
  std::vector<TxFrame> tx_slots_;
  std::uint32_t tx_batch_idx_ = 0;
  std::uint32_t tx_reserved_ = 0;

  SocketStats counters_;
};

template <class F>
Result<std::uint32_t> XdpSocket::receive_each(std::uint32_t max, F&& fn) {
  if (sg_ || !rx_.valid()) [[unlikely]] {
    auto batch = receive(max);
    if (!batch) return std::move(batch).take_error();
    for (const RxPacket& p : *batch) fn(p.data, p.len, p.total_len);
    return static_cast<std::uint32_t>(batch->size());
  }
  if (rx_.outstanding() != 0) [[unlikely]]
    release();
  std::uint32_t idx = 0;
  const std::uint32_t n = rx_.peek(max < rx_.size() ? max : rx_.size(), &idx);
  if (n == 0) return rx_idle();
  rx_batch_idx_ = idx;  // release() recycles them from the ring
  const UmemLayout um = umem_->layout();
  struct xdp_desc* const batch = rx_descs_.data();
  // As for_each_packet: copy, check and prefetch first, then hand out.
  const bool ok = take_checked(rx_, idx, n, um, batch);
  std::uint32_t got = 0;
  std::uint64_t bytes = 0;
  if (ok) [[likely]] {
    for (std::uint32_t i = 0; i < n; ++i) {
      const struct xdp_desc d = batch[i];
      fn(um.base + d.addr, d.len, d.len);
      bytes += d.len;
    }
    got = n;
  } else {
    for (std::uint32_t i = 0; i < n; ++i) {
      const struct xdp_desc d = batch[i];
      if (!um.contains(d.addr, d.len)) [[unlikely]]
        continue;
      fn(um.data(d.addr), d.len, d.len);
      bytes += d.len;
      ++got;
    }
  }
  counters_.rx_fragments += n;
  counters_.rx_invalid_packets += n - got;
  counters_.rx_packets += got;
  counters_.rx_bytes += bytes;
  return got;
}

template <class F>
Result<std::uint32_t> XdpSocket::for_each_packet(std::uint32_t max, F&& fn) {
  if (sg_ || !rx_.valid()) [[unlikely]] {
    auto batch = receive(max);
    if (!batch) return std::move(batch).take_error();
    for (const RxPacket& p : *batch) fn(p);
    release();
    return static_cast<std::uint32_t>(batch->size());
  }
  if (rx_.outstanding() != 0) [[unlikely]]
    release();
  std::uint32_t idx = 0;
  const std::uint32_t n = rx_.peek(max < rx_.size() ? max : rx_.size(), &idx);
  if (n == 0) return rx_idle();
  // Locals, not members: the fill-ring stores and fn's own stores could
  // otherwise alias them and force reloads on every packet.
  const UmemLayout um = umem_->layout();
  struct xdp_desc* const batch = rx_descs_.data();
  // Pass 1 (take_checked): copy, check and prefetch the whole batch; then
  // the frames go into the fill ring (stores to lines the kernel reads on
  // another CPU) and fn sees the packets, each in a loop of its own. Short
  // loops let the core overlap the cache misses that one loop doing all of
  // it per packet serializes (afxdp_bench DRAIN 64 B: 0.64..0.78x libxdp's
  // loop without prefetch, 0.84..0.92x with only the prefetch split off,
  // 1.02..1.14x like this, at load 8..11). Everything after pass 1 reads only the copy, so
  // a descriptor the kernel rewrote after the check (it must not; a bug
  // might) cannot send us outside the UMEM. The fill ring's producer is
  // published (release) only after fn has read every packet: until then
  // the kernel cannot reuse a frame.
  const bool ok = take_checked(rx_, idx, n, um, batch);
  const std::uint64_t frame_mask = ~static_cast<std::uint64_t>(um.frame_size - 1);
  rx_.release(n);  // the copy is all we read from here on
  // One fill-ring reservation per batch. The fill ring has a slot for every
  // RX frame of this socket, so it has room for the n frames just taken;
  // the parking branch below serves a UMEM slice larger than the ring.
  std::uint32_t fidx = 0;
  const std::uint32_t got = fill_.reserve_up_to(n, &fidx);
  std::uint64_t* const fq = fill_.entries();
  const std::uint32_t fmask = fill_.mask();
  std::uint32_t invalid = 0;
  std::uint64_t bytes = 0;
  if (ok && got == n) [[likely]] {
    for (std::uint32_t i = 0; i < n; ++i) fq[(fidx + i) & fmask] = batch[i].addr & frame_mask;
    for (std::uint32_t i = 0; i < n; ++i) {
      const struct xdp_desc d = batch[i];
      const RxPacket p{{um.base + d.addr, d.len}, d.len, 1, nullptr};
      fn(p);
      bytes += d.len;
    }
  } else {
    for (std::uint32_t i = 0; i < n; ++i) {
      const struct xdp_desc d = batch[i];
      const std::uint64_t frame = um.frame_of(d.addr);
      if (i < got)
        fq[(fidx + i) & fmask] = frame;
      else
        rx_free_.push(frame);
      if (um.contains(d.addr, d.len)) [[likely]] {
        const RxPacket p{{um.data(d.addr), d.len}, d.len, 1, nullptr};
        fn(p);
        bytes += d.len;
      } else {
        ++invalid;
      }
    }
  }
  fill_.submit(got);
  if (rx_free_.available() != 0) [[unlikely]]
    refill();
  counters_.rx_fragments += n;
  counters_.rx_invalid_packets += invalid;
  counters_.rx_packets += n - invalid;
  counters_.rx_bytes += bytes;
  return n - invalid;
}

}  // namespace netring::xdp
