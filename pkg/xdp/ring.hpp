// The AF_XDP single-producer/single-consumer ring protocol, user-space side.
//
// Four rings share one layout: a u32 producer index, a u32 consumer index, a
// u32 flags word and a power-of-two array of entries (xdp_desc for RX/TX,
// u64 UMEM addresses for fill/completion). Indices run freely over the whole
// u32 range and are masked only to address an entry, so "full" and "empty"
// are told apart by subtraction, which stays right across the 2^32 wrap.
//
// Ordering, as include/net/xsk_queue.h pairs it with the kernel:
//
//   producer                          consumer
//   if (LOAD.acq ->consumer) {  (A)   LOAD.acq ->producer   (C)
//      STORE entries                  LOAD entries
//      STORE.rel ->producer     (B)   STORE.rel ->consumer  (D)
//   }
//
// (B) pairs with (C): entries are visible before the index that publishes
// them. (D) pairs with (A): the consumer is done reading an entry before the
// producer may overwrite it. The kernel's side relies on a control
// dependency for (A); C++ has no such notion, so (A) is an acquire load
// (a plain MOV on x86, like the rest).
//
// Each side keeps cached copies of both indices and touches the shared
// cache line only when its cached view cannot satisfy a request; the
// producer's cached consumer is stored `size` ahead so that free space is a
// single subtraction. Everything here is inline and allocation-free.
#pragma once

#include <atomic>
#include <cstdint>

#include "pkg/xdp/ffi.hpp"

namespace netring::xdp {

// Where a ring lives: filled from an mmap'ed ring (RingMapping) or, in
// tests, from ordinary memory that plays the kernel's part.
struct RingView {
  std::uint32_t* producer = nullptr;
  std::uint32_t* consumer = nullptr;
  std::uint32_t* flags = nullptr;  // nullptr on kernels without need_wakeup
  void* entries = nullptr;
  std::uint32_t size = 0;  // power of two
};

namespace detail {
inline std::uint32_t load_acquire(std::uint32_t* p) {
  return std::atomic_ref<std::uint32_t>(*p).load(std::memory_order_acquire);
}
inline std::uint32_t load_relaxed(std::uint32_t* p) {
  return std::atomic_ref<std::uint32_t>(*p).load(std::memory_order_relaxed);
}
inline void store_release(std::uint32_t* p, std::uint32_t v) {
  std::atomic_ref<std::uint32_t>(*p).store(v, std::memory_order_release);
}
}  // namespace detail

// User space produces (fill ring: u64 addresses; TX ring: xdp_desc).
template <class Entry>
class ProducerRing {
 public:
  ProducerRing() = default;
  explicit ProducerRing(const RingView& v)
      : producer_(v.producer),
        consumer_(v.consumer),
        flags_(v.flags),
        entries_(static_cast<Entry*>(v.entries)),
        mask_(v.size - 1),
        size_(v.size) {
    // Start from whatever the shared indices say (0 on a fresh ring).
    cached_prod_ = detail::load_relaxed(producer_);
    committed_ = cached_prod_;
    cached_cons_ = detail::load_acquire(consumer_) + size_;
  }

  std::uint32_t size() const { return size_; }
  bool valid() const { return entries_ != nullptr; }

  // Free entries, refreshing the consumer index only when the cached view
  // shows fewer than `wanted` (A).
  std::uint32_t free_entries(std::uint32_t wanted) {
    std::uint32_t n = cached_cons_ - cached_prod_;
    if (n >= wanted) return n;
    cached_cons_ = detail::load_acquire(consumer_) + size_;
    return cached_cons_ - cached_prod_;
  }

  // All or nothing, like xsk_ring_prod__reserve: returns n or 0; *idx is
  // the first reserved index.
  std::uint32_t reserve(std::uint32_t n, std::uint32_t* idx) {
    if (free_entries(n) < n) return 0;
    *idx = cached_prod_;
    cached_prod_ += n;
    return n;
  }
  // As many as fit, up to n.
  std::uint32_t reserve_up_to(std::uint32_t n, std::uint32_t* idx) {
    std::uint32_t f = free_entries(n);
    if (f < n) n = f;
    *idx = cached_prod_;
    cached_prod_ += n;
    return n;
  }
  // Takes back the last n reserved, not yet submitted entries.
  void unreserve(std::uint32_t n) { cached_prod_ -= n; }

  Entry& at(std::uint32_t idx) { return entries_[idx & mask_]; }
  // For batch loops that keep the array and mask in registers.
  Entry* entries() const { return entries_; }
  std::uint32_t mask() const { return mask_; }

  // Publishes the next n reserved entries (B).
  void submit(std::uint32_t n) {
    committed_ += n;
    detail::store_release(producer_, committed_);
  }

  // Reserved entries not yet submitted.
  std::uint32_t pending() const { return cached_prod_ - committed_; }
  // Submitted entries the consumer has not taken yet (reads the shared
  // consumer index: not for the per-packet path).
  std::uint32_t unconsumed() const { return committed_ - detail::load_acquire(consumer_); }

  // The kernel asks to be woken (XDP_USE_NEED_WAKEUP). A plain load, as in
  // libxdp: a stale 0 only delays the kick to the next call.
  bool needs_wakeup() const { return flags_ != nullptr && (detail::load_relaxed(flags_) & XDP_RING_NEED_WAKEUP) != 0; }

 private:
  std::uint32_t cached_prod_ = 0;
  std::uint32_t cached_cons_ = 0;  // consumer + size
  std::uint32_t committed_ = 0;    // last value stored to *producer_
  std::uint32_t* producer_ = nullptr;
  std::uint32_t* consumer_ = nullptr;
  std::uint32_t* flags_ = nullptr;
  Entry* entries_ = nullptr;
  std::uint32_t mask_ = 0;
  std::uint32_t size_ = 0;
};

// User space consumes (RX ring: xdp_desc; completion ring: u64 addresses).
template <class Entry>
class ConsumerRing {
 public:
  ConsumerRing() = default;
  explicit ConsumerRing(const RingView& v)
      : producer_(v.producer),
        consumer_(v.consumer),
        flags_(v.flags),
        entries_(static_cast<Entry*>(v.entries)),
        mask_(v.size - 1),
        size_(v.size) {
    cached_cons_ = detail::load_relaxed(consumer_);
    released_ = cached_cons_;
    cached_prod_ = detail::load_acquire(producer_);
  }

  std::uint32_t size() const { return size_; }
  bool valid() const { return entries_ != nullptr; }

  // Entries ready, up to `wanted`; reads the producer index (C) only when
  // the cached view holds fewer than wanted.
  std::uint32_t available(std::uint32_t wanted) {
    std::uint32_t n = cached_prod_ - cached_cons_;
    if (n < wanted) {
      cached_prod_ = detail::load_acquire(producer_);
      n = cached_prod_ - cached_cons_;
    }
    return n < wanted ? n : wanted;
  }

  // Up to n entries from *idx on; they stay valid until release().
  std::uint32_t peek(std::uint32_t n, std::uint32_t* idx) {
    n = available(n);
    *idx = cached_cons_;
    cached_cons_ += n;
    return n;
  }
  // Un-peeks the last n peeked entries (they are seen again next time).
  void cancel(std::uint32_t n) { cached_cons_ -= n; }

  const Entry& at(std::uint32_t idx) const { return entries_[idx & mask_]; }
  const Entry* entries() const { return entries_; }
  std::uint32_t mask() const { return mask_; }

  // Hands the next n peeked entries back to the producer (D).
  void release(std::uint32_t n) {
    released_ += n;
    detail::store_release(consumer_, released_);
  }

  // Peeked entries not yet released.
  std::uint32_t outstanding() const { return cached_cons_ - released_; }

  bool needs_wakeup() const { return flags_ != nullptr && (detail::load_relaxed(flags_) & XDP_RING_NEED_WAKEUP) != 0; }

 private:
  std::uint32_t cached_prod_ = 0;
  std::uint32_t cached_cons_ = 0;
  std::uint32_t released_ = 0;  // last value stored to *consumer_
  std::uint32_t* producer_ = nullptr;
  std::uint32_t* consumer_ = nullptr;
  std::uint32_t* flags_ = nullptr;
  const Entry* entries_ = nullptr;
  std::uint32_t mask_ = 0;
  std::uint32_t size_ = 0;
};

using FillRing = ProducerRing<std::uint64_t>;
using TxRing = ProducerRing<struct xdp_desc>;
using RxRing = ConsumerRing<struct xdp_desc>;
using CompletionRing = ConsumerRing<std::uint64_t>;

}  // namespace netring::xdp
