#include "pkg/xdp/xdp_socket.hpp"

#include "pkg/xdp/rx_assembler.hpp"

#include <algorithm>
#include <cstring>

namespace netring::xdp {

const char* to_string(BindMode m) {
  switch (m) {
    case BindMode::kAuto: return "auto";
    case BindMode::kCopy: return "copy";
    case BindMode::kZeroCopy: return "zero-copy";
  }
  return "?";
}

std::string XdpSocket::describe() const {
  std::string s =
      "AF_XDP " + ifname_ + " queue " + std::to_string(queue_) + ", " + (zero_copy_ ? "zero-copy" : "copy") + " mode";
  if (need_wakeup_) s += ", need_wakeup";
  if (sg_) s += ", multi-buffer";
  if (shared_) s += ", shared UMEM";
  return s;
}

Result<std::span<const RxPacket>> XdpSocket::receive(std::uint32_t max) {
  if (!rx_.valid()) return Error::invalid("AF_XDP receive", describe() + " has no RX ring");
  if (rx_.outstanding() != 0) release();
  const std::uint32_t want = sg_ ? rx_.size() : std::min(max, rx_.size());
  std::uint32_t idx = 0;
  const std::uint32_t n = rx_.peek(want, &idx);
  if (n == 0) {
    if (auto r = rx_idle(); !r) return std::move(r).take_error();
    return std::span<const RxPacket>{};
  }
  rx_batch_idx_ = idx;
  const UmemLayout& um = umem_->layout();
  Assembled a;
  if (!sg_) {
    a = assemble_single(rx_, idx, n, um, packets_.data());
  } else {
    a = assemble_multi(rx_, idx, n, max, um, packets_.data(), frags_.data());
    rx_.cancel(n - a.descs);
  }
  counters_.rx_fragments += a.descs;
  counters_.rx_invalid_packets += a.invalid;
  counters_.rx_packets += a.packets;
  counters_.rx_bytes += a.bytes;
  return std::span<const RxPacket>(packets_.data(), a.packets);
}

Result<std::uint32_t> XdpSocket::rx_idle() {
  // Copy mode and most drivers fill RX from the XDP path without help; a
  // driver that went to sleep sets the fill ring's flag and wants a
  // syscall to run its NAPI loop again.
  if (need_wakeup_ && fill_.needs_wakeup()) {
    ++counters_.rx_kicks;
    if (auto r = sys::kick_rx(fd_, ifname_); !r) return std::move(r).take_error();
  }
  return 0u;
}

void XdpSocket::release() {
  const std::uint32_t n = rx_.outstanding();
  if (n == 0) return;
  const UmemLayout& um = umem_->layout();
  std::uint32_t fidx = 0;
  const std::uint32_t got = fill_.reserve_up_to(n, &fidx);
  // The descriptors are still ours until rx_.release(): read their frame
  // addresses straight into the fill ring.
  for (std::uint32_t i = 0; i < got; ++i) fill_.at(fidx + i) = um.frame_of(rx_.at(rx_batch_idx_ + i).addr);
  for (std::uint32_t i = got; i < n; ++i) rx_free_.push(um.frame_of(rx_.at(rx_batch_idx_ + i).addr));
  fill_.submit(got);
  rx_.release(n);
  if (rx_free_.available() != 0) refill();
}

void XdpSocket::refill() {
  std::uint32_t idx = 0;
  const std::uint32_t n = fill_.reserve_up_to(rx_free_.available(), &idx);
  for (std::uint32_t i = 0; i < n; ++i) fill_.at(idx + i) = rx_free_.pop();
  if (n != 0) fill_.submit(n);
}

std::uint32_t XdpSocket::reap_completions() {
  if (!comp_.valid() || !tx_.valid()) return 0;
  std::uint32_t idx = 0;
  const std::uint32_t n = comp_.peek(comp_.size(), &idx);
  if (n == 0) return 0;
  const std::uint64_t* const cq = comp_.entries();
  const std::uint32_t mask = comp_.mask();
  const std::uint64_t off = tx_data_offset_;
  std::uint64_t* const dst = tx_free_.push_n(n);
  for (std::uint32_t i = 0; i < n; ++i) dst[i] = cq[(idx + i) & mask] - off;
  comp_.release(n);
  counters_.tx_completed += n;
  return n;
}

std::span<TxFrame> XdpSocket::tx_reserve(std::uint32_t n) {
  if (!tx_.valid()) return {};
  if (tx_reserved_ != 0) {  // an unsubmitted reservation: give it back
    for (std::uint32_t i = 0; i < tx_reserved_; ++i) tx_free_.push(tx_slots_[i].addr - tx_data_offset_);
    tx_.unreserve(tx_reserved_);
    tx_reserved_ = 0;
  }
  reap_completions();
  n = std::min(n, tx_free_.available());
  std::uint32_t idx = 0;
  n = tx_.reserve_up_to(n, &idx);
  const UmemLayout um = umem_->layout();
  const std::uint64_t off = tx_data_offset_;
  const std::uint32_t cap = um.frame_size - tx_data_offset_;
  TxFrame* const slots = tx_slots_.data();
  const std::uint64_t* const frames = tx_free_.pop_n(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint64_t addr = frames[i] + off;
    slots[i] = {um.data(addr), cap, 0, addr};
  }
  tx_batch_idx_ = idx;
  tx_reserved_ = n;
  return {tx_slots_.data(), n};
}

Result<std::uint32_t> XdpSocket::tx_submit(std::uint32_t n) {
  n = std::min(n, tx_reserved_);
  std::uint64_t bytes = 0;
  const TxFrame* const slots = tx_slots_.data();
  struct xdp_desc* const txd = tx_.entries();
  const std::uint32_t mask = tx_.mask(), idx = tx_batch_idx_;
  for (std::uint32_t i = 0; i < n; ++i) {
    txd[(idx + i) & mask] = {slots[i].addr, slots[i].len, 0};
    bytes += slots[i].len;
  }
  for (std::uint32_t i = n; i < tx_reserved_; ++i) tx_free_.push(tx_slots_[i].addr - tx_data_offset_);
  tx_.unreserve(tx_reserved_ - n);
  tx_reserved_ = 0;
  if (n != 0) {
    tx_.submit(n);
    counters_.tx_packets += n;
    counters_.tx_bytes += bytes;
  }
  // Copy mode transmits only inside sendto(), a bounded batch per call, so
  // the TX ring's flag is always up there; zero-copy drivers raise it only
  // when their NAPI loop went to sleep. A call that queued nothing kicks
  // only for descriptors still waiting from earlier calls.
  if ((n != 0 || tx_.unconsumed() != 0) && (!need_wakeup_ || tx_.needs_wakeup())) {
    ++counters_.tx_kicks;
    if (auto r = sys::kick_tx(fd_, ifname_); !r) return std::move(r).take_error();
  }
  return n;
}

Result<std::uint32_t> XdpSocket::send(std::span<const std::span<const std::byte>> packets) {
  const std::uint32_t cap = umem_->frame_size() - tx_data_offset_;
  for (const auto& p : packets)
    if (p.size() > cap)
      return Error(
          "AF_XDP send", EMSGSIZE,
          ifname_ + ": packet of " + std::to_string(p.size()) + " bytes, a frame holds " + std::to_string(cap));
  auto frames = tx_reserve(static_cast<std::uint32_t>(std::min<std::size_t>(packets.size(), UINT32_MAX)));
  for (std::size_t i = 0; i < frames.size(); ++i) {
    std::memcpy(frames[i].data, packets[i].data(), packets[i].size());
    frames[i].len = static_cast<std::uint32_t>(packets[i].size());
  }
  return tx_submit(static_cast<std::uint32_t>(frames.size()));
}

Result<void> XdpSocket::flush() {
  if (!tx_.valid()) return ok();
  reap_completions();
  if (tx_.unconsumed() != 0 && (!need_wakeup_ || tx_.needs_wakeup())) {
    ++counters_.tx_kicks;
    return sys::kick_tx(fd_, ifname_);
  }
  return ok();
}

Result<SocketStats> XdpSocket::stats() const {
  auto k = sys::statistics(fd_);
  if (!k) return std::move(k).take_error();
  SocketStats s = counters_;
  s.kernel = *k;
  return s;
}

}  // namespace netring::xdp
