#include "agent/capture_api/capture_tap.hpp"

#include <algorithm>
#include <cstring>

namespace netring::agent::capture_api {

std::unique_ptr<CaptureTap::Subscription> CaptureTap::subscribe(std::uint32_t snap_len, std::size_t capacity) {
  std::lock_guard lock(mu_);
  if (sub_ != nullptr) return nullptr;
  std::unique_ptr<Subscription> s(
      new Subscription(*this, std::max<std::uint32_t>(snap_len, 1), std::max<std::size_t>(capacity, 1)));
  sub_ = s.get();
  active_.store(true, std::memory_order_relaxed);
  return s;
}

CaptureTap::Subscription::Subscription(CaptureTap& tap, std::uint32_t snap_len, std::size_t capacity)
    : tap_(tap),
      snap_len_(snap_len),
      storage_(capacity * snap_len),
      slots_(capacity),
      out_storage_(capacity * snap_len) {}

CaptureTap::Subscription::~Subscription() {
  std::lock_guard lock(tap_.mu_);
  tap_.active_.store(false, std::memory_order_relaxed);
  tap_.sub_ = nullptr;
}

void CaptureTap::push(std::span<const capture::PacketView> batch) {
  {
    std::lock_guard lock(mu_);
    Subscription* s = sub_;
    if (s == nullptr) return;
    const std::size_t cap = s->slots_.size();
    for (const capture::PacketView& p : batch) {
      if (s->size_ == cap) {
        ++s->dropped_;
        continue;
      }
      std::size_t idx = (s->head_ + s->size_) % cap;
      std::uint32_t n = std::min(p.len, s->snap_len_);
      std::byte* dst = s->storage_.data() + idx * s->snap_len_;
      if (n) std::memcpy(dst, p.data, n);
      s->slots_[idx] = TappedPacket{p.timestamp_ns, p.ifindex, p.orig_len ? p.orig_len : p.len, n, dst};
      ++s->size_;
    }
  }
  cv_.notify_one();
}

std::size_t CaptureTap::Subscription::pop(std::span<TappedPacket> out, std::chrono::milliseconds timeout) {
  std::unique_lock lock(tap_.mu_);
  tap_.cv_.wait_for(lock, timeout, [&] { return size_ > 0; });
  const std::size_t cap = slots_.size();
  std::size_t n = std::min(out.size(), size_);
  for (std::size_t i = 0; i < n; ++i) {
    const TappedPacket& src = slots_[(head_ + i) % cap];
    std::byte* dst = out_storage_.data() + i * snap_len_;
    if (src.len) std::memcpy(dst, src.data, src.len);
    out[i] = src;
    out[i].data = dst;
  }
  head_ = (head_ + n) % cap;
  size_ -= n;
  return n;
}

std::uint64_t CaptureTap::Subscription::dropped() const {
  std::lock_guard lock(tap_.mu_);
  return dropped_;
}

}  // namespace netring::agent::capture_api
