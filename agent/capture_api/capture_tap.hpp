// Where the capture API gets its samples: the workers offer every sample
// batch here, and while a capture runs, copies go into one bounded queue.
//
// Idle cost is one relaxed atomic load per batch: the queue and its buffers
// exist only while a capture is subscribed. During a capture the workers
// copy under a mutex (several workers push, one HTTP thread pops): a capture
// is a rare, operator-driven event, and a full queue drops (and counts)
// rather than ever blocking a worker.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "pkg/capture/source.hpp"

namespace netring::agent::capture_api {

// One copied sample (its bytes live in the subscription's storage).
struct TappedPacket {
  std::uint64_t timestamp_ns = 0;
  std::uint32_t ifindex = 0;
  std::uint32_t orig_len = 0;
  std::uint32_t len = 0;  // bytes copied (<= snap_len)
  const std::byte* data = nullptr;
};

class CaptureTap {
 public:
  class Subscription;

  CaptureTap() = default;
  CaptureTap(const CaptureTap&) = delete;
  CaptureTap& operator=(const CaptureTap&) = delete;

  // Workers: offer a batch of samples, each starting at its Ethernet header.
  void offer(std::span<const capture::PacketView> batch) {
    // Relaxed is enough: missing the first samples of a capture that is just
    // starting is harmless, and the queue itself is guarded by the mutex.
    if (!active_.load(std::memory_order_relaxed)) return;
    push(batch);
  }
  bool active() const { return active_.load(std::memory_order_relaxed); }

  // Starts the one capture; nullptr when one is already running.
  // `snap_len` bytes are kept per sample, `capacity` samples are queued.
  std::unique_ptr<Subscription> subscribe(std::uint32_t snap_len, std::size_t capacity);

  class Subscription {
   public:
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

    // Waits up to `timeout` for samples, then moves up to out.size() of them
    // into `out` (views valid until the next pop). Returns how many.
    std::size_t pop(std::span<TappedPacket> out, std::chrono::milliseconds timeout);
    // Samples the queue had to drop because it was full.
    std::uint64_t dropped() const;

   private:
    friend class CaptureTap;
    Subscription(CaptureTap& tap, std::uint32_t snap_len, std::size_t capacity);
    CaptureTap& tap_;
    std::uint32_t snap_len_;
    std::vector<std::byte> storage_;  // capacity * snap_len: queued samples
    std::vector<TappedPacket> slots_;
    std::vector<std::byte> out_storage_;  // where pop() copies to, so workers can reuse the slots
    std::size_t head_ = 0, size_ = 0;
    std::uint64_t dropped_ = 0;
  };

 private:
  void push(std::span<const capture::PacketView> batch);

  std::atomic<bool> active_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Subscription* sub_ = nullptr;  // guarded by mu_
};

}  // namespace netring::agent::capture_api
