// The UMEM: one anonymous mapping of equal frames that the kernel reads and
// writes packets into, registered on an AF_XDP socket (XDP_UMEM_REG). It is
// shared (std::shared_ptr) by every socket bound on it; each socket takes a
// disjoint slice of its frames.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "pkg/common/error.hpp"
#include "pkg/common/fd.hpp"
#include "pkg/common/mapping.hpp"
#include "pkg/xdp/ffi.hpp"
#include "pkg/xdp/umem_layout.hpp"

namespace netring::xdp {

struct UmemConfig {
  std::uint32_t frame_size = 4096;  // chunk size: 2048..4096; a power of two unless unaligned
  std::uint32_t frame_count = 4096;
  std::uint32_t headroom = 0;         // bytes the kernel leaves before each RX packet (after its own 256)
  bool unaligned = false;             // XDP_UMEM_UNALIGNED_CHUNK_FLAG
  bool huge_pages = false;            // MAP_HUGETLB (needs reserved huge pages)
  std::uint32_t tx_metadata_len = 0;  // bytes of struct xsk_tx_metadata before TX data (6.11+); 0 = none
};

// Checks a configuration without touching the kernel (builder validation).
Result<void> validate(const UmemConfig& c);

class Umem {
 public:
  // mmap + socket + XDP_UMEM_REG. ENOBUFS/ENOMEM name RLIMIT_MEMLOCK and
  // CAP_IPC_LOCK: registration pins the pages and charges them to the
  // locked-memory limit unless the process has CAP_IPC_LOCK.
  static Result<std::shared_ptr<Umem>> create(const UmemConfig& config);

  Umem(const Umem&) = delete;
  Umem& operator=(const Umem&) = delete;

  const UmemConfig& config() const { return config_; }
  std::byte* base() const { return area_.bytes(); }
  std::size_t size() const { return area_.size(); }
  std::uint32_t frame_size() const { return config_.frame_size; }
  std::uint32_t frame_count() const { return config_.frame_count; }
  // Room for packet data in one RX frame.
  std::uint32_t rx_frame_capacity() const { return config_.frame_size - config_.headroom - ffi::kPacketHeadroom; }

  const UmemLayout& layout() const { return layout_; }
  std::byte* data(std::uint64_t addr) const { return layout_.data(addr); }
  std::uint64_t frame_of(std::uint64_t addr) const { return layout_.frame_of(addr); }

  // The socket the UMEM is registered on. The first socket built on the
  // UMEM binds on it (claim_registration_fd); later ones bind with
  // XDP_SHARED_UMEM pointing at it. It lives as long as the UMEM, so a
  // first socket destroyed before the others leaves its queue bound (but
  // unmapped and out of any XSKMAP) until the last one goes.
  int fd() const { return fd_.get(); }
  bool claim_registration_fd() { return !claimed_.exchange(true); }
  // Undoes claim_registration_fd() for a first socket whose build failed
  // before bind succeeded, so the next build can be the first one (libxdp's
  // create path drops the UMEM's refcount the same way). `rings_set`: the
  // failed build sized rings on the registration socket; the kernel sizes a
  // ring once per socket (a second XDP_*_RING on it is EINVAL), so the UMEM
  // is registered afresh on a new socket and the old one closed. If that
  // fails, every later build gets the error.
  void unclaim_registration_fd(bool rings_set);
  // Why the UMEM cannot serve another socket (its re-registration failed).
  const std::optional<Error>& broken() const { return broken_; }
  bool bound() const { return bound_.load(); }
  // Shared binds inherit need_wakeup from the first socket: the others
  // must know whether the kernel will ever raise the ring flags.
  void mark_bound(bool need_wakeup) {
    need_wakeup_ = need_wakeup;
    bound_.store(true);
  }
  bool need_wakeup() const { return need_wakeup_; }

  // Reserves n consecutive frames for one socket; returns the first frame's
  // address, or an error when the UMEM has no n consecutive frames left.
  Result<std::uint64_t> take_frames(std::uint32_t n);
  // Gives back frames take_frames() lent to a socket that was never bound
  // (the kernel never saw them), for the next socket to take.
  void return_frames(std::uint64_t first_addr, std::uint32_t n);
  std::uint32_t frames_left() const;

 private:
  Umem() = default;
  static Result<UniqueFd> register_area(const UmemConfig& config, void* area, std::size_t len);
  UmemConfig config_;
  Mapping area_;
  UniqueFd fd_;
  UmemLayout layout_;
  std::atomic<bool> claimed_{false};
  std::atomic<bool> bound_{false};
  bool need_wakeup_ = false;
  std::optional<Error> broken_;
  // Frame bookkeeping (control path only): frames below next_frame_ were
  // lent out, except the ranges returned since; (first frame, count).
  mutable std::mutex frames_mu_;
  std::uint32_t next_frame_ = 0;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> returned_;
};

}  // namespace netring::xdp
