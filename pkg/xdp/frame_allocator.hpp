// A fixed-capacity stack of free UMEM frame addresses. Sized once; push and
// pop never allocate. One per socket (frames of a shared UMEM are handed out
// in disjoint slices), so it needs no locking.
#pragma once

#include <cstdint>
#include <vector>

namespace netring::xdp {

class FrameAllocator {
 public:
  FrameAllocator() = default;
  explicit FrameAllocator(std::uint32_t capacity) : addrs_(capacity) {}

  std::uint32_t available() const { return n_; }
  std::uint32_t capacity() const { return static_cast<std::uint32_t>(addrs_.size()); }

  // Callers check available()/capacity() first: these are on the data path.
  std::uint64_t pop() { return addrs_[--n_]; }
  void push(std::uint64_t addr) { addrs_[n_++] = addr; }
  // Batch forms for the TX path: room for n more addresses that the caller
  // writes (n <= capacity() - available()), and the top n addresses, taken.
  std::uint64_t* push_n(std::uint32_t n) {
    std::uint64_t* p = addrs_.data() + n_;
    n_ += n;
    return p;
  }
  const std::uint64_t* pop_n(std::uint32_t n) {
    n_ -= n;
    return addrs_.data() + n_;
  }

 private:
  std::vector<std::uint64_t> addrs_;
  std::uint32_t n_ = 0;
};

}  // namespace netring::xdp
