#include "pkg/xdp/umem.hpp"

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "pkg/xdp/socket.hpp"

namespace netring::xdp {

Result<void> validate(const UmemConfig& c) {
  const auto page = static_cast<std::uint32_t>(::sysconf(_SC_PAGESIZE));
  if (c.frame_size < ffi::kMinChunkSize || c.frame_size > page)
    return Error::invalid("UMEM", "frame size " + std::to_string(c.frame_size) + " out of range [" +
                                      std::to_string(ffi::kMinChunkSize) + ", " + std::to_string(page) + "]");
  if (!c.unaligned && (c.frame_size & (c.frame_size - 1)) != 0)
    return Error::invalid("UMEM", "frame size " + std::to_string(c.frame_size) +
                                      " is not a power of two (only unaligned mode allows that)");
  if (c.frame_count == 0) return Error::invalid("UMEM", "frame count is 0");
  if (c.headroom + ffi::kPacketHeadroom >= c.frame_size)
    return Error::invalid("UMEM", "headroom " + std::to_string(c.headroom) + " leaves no room in a " +
                                      std::to_string(c.frame_size) + "-byte frame");
  if (c.tx_metadata_len % 8 != 0 || c.tx_metadata_len >= ffi::kMaxTxMetadataLen)
    return Error::invalid("UMEM", "tx_metadata_len must be a multiple of 8 below 256");
  return ok();
}

Result<std::shared_ptr<Umem>> Umem::create(const UmemConfig& config) {
  if (auto v = validate(config); !v) return std::move(v).take_error();
  std::shared_ptr<Umem> u(new Umem());
  u->config_ = config;

  const std::size_t len = static_cast<std::size_t>(config.frame_size) * config.frame_count;
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE;
  if (config.huge_pages) flags |= MAP_HUGETLB;
  auto area = Mapping::map(len, PROT_READ | PROT_WRITE, flags, -1, 0, "UMEM");
  if (!area) {
    Error e = std::move(area).take_error();
    if (config.huge_pages)
      return std::move(e).with_hint("huge pages requested: reserve some in /proc/sys/vm/nr_hugepages");
    return e;
  }
  u->area_ = std::move(*area);
  // The kernel pins these pages for the socket's lifetime: a fork must not
  // turn them copy-on-write under it (the parent would write to a copy the
  // kernel no longer sees). The distinct VMA flag also keeps the UMEM from
  // merging with neighbouring anonymous mappings, so /proc/PID/smaps shows it
  // as one mapping of its exact size (named too, where the kernel allows).
  (void)::madvise(u->area_.data(), len, MADV_DONTFORK);
  u->area_.name("netring-umem");
  u->layout_ = UmemLayout{u->area_.bytes(), len, config.frame_size, config.unaligned};

  auto fd = register_area(config, u->area_.data(), len);
  if (!fd) return std::move(fd).take_error();
  u->fd_ = std::move(*fd);
  return u;
}

Result<UniqueFd> Umem::register_area(const UmemConfig& config, void* area, std::size_t len) {
  const std::string ctx = std::to_string(config.frame_count) + " frames x " + std::to_string(config.frame_size) + " B";
  auto fd = sys::open_socket("UMEM registration");
  if (!fd) return std::move(fd).take_error();

  ffi::UmemReg reg{};
  reg.addr = reinterpret_cast<std::uintptr_t>(area);
  reg.len = len;
  reg.chunk_size = config.frame_size;
  reg.headroom = config.headroom;
  reg.flags = config.unaligned ? XDP_UMEM_UNALIGNED_CHUNK_FLAG : 0;
  if (config.tx_metadata_len != 0) {
    reg.flags |= XDP_UMEM_TX_METADATA_LEN;
    reg.tx_metadata_len = config.tx_metadata_len;
  }
  if (::setsockopt(fd->get(), SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg)) != 0) {
    auto e = Error::from_errno("setsockopt(XDP_UMEM_REG)", ctx);
    if (e.code() == ENOBUFS || e.code() == ENOMEM) {
      struct rlimit rl {};
      ::getrlimit(RLIMIT_MEMLOCK, &rl);
      std::string lim = rl.rlim_cur == RLIM_INFINITY ? "unlimited" : std::to_string(rl.rlim_cur / 1024) + " KiB";
      return std::move(e).with_hint("the UMEM (" + std::to_string(len / 1024) +
                                    " KiB) is pinned and charged to RLIMIT_MEMLOCK (now " + lim +
                                    "): raise it (ulimit -l) or grant CAP_IPC_LOCK");
    }
    if (e.code() == EINVAL && config.tx_metadata_len != 0)
      return std::move(e).with_hint("tx_metadata_len needs Linux 6.11+ (XDP_UMEM_TX_METADATA_LEN)");
    if (e.code() == EINVAL && config.unaligned) return std::move(e).with_hint("unaligned chunks need Linux 5.4+");
    return e;
  }
  return std::move(*fd);
}

void Umem::unclaim_registration_fd(bool rings_set) {
  if (bound_.load()) return;  // bound after all: nothing to undo
  if (rings_set) {
    // Close first: the old registration's pinned pages are released with
    // it, so RLIMIT_MEMLOCK is not charged twice by the new one.
    fd_.reset();
    auto fd = register_area(config_, area_.data(), area_.size());
    if (!fd) {
      broken_ =
          Error(fd.error().op(), fd.error().code(),
                "re-registering the UMEM after its first socket failed: " + fd.error().context(), fd.error().hint());
      return;
    }
    fd_ = std::move(*fd);
  }
  claimed_.store(false);
}

Result<std::uint64_t> Umem::take_frames(std::uint32_t n) {
  std::lock_guard lk(frames_mu_);
  for (auto it = returned_.begin(); it != returned_.end(); ++it) {
    if (it->second < n) continue;
    const std::uint32_t first = it->first;
    it->first += n;
    it->second -= n;
    if (it->second == 0) returned_.erase(it);
    return static_cast<std::uint64_t>(first) * config_.frame_size;
  }
  if (config_.frame_count - next_frame_ < n) {
    std::uint32_t left = config_.frame_count - next_frame_;
    for (const auto& r : returned_) left += r.second;
    return Error("UMEM frames", ENOBUFS,
                 "need " + std::to_string(n) + " consecutive, " + std::to_string(left) + " left of " +
                     std::to_string(config_.frame_count),
                 "create the shared UMEM with enough frames for every socket");
  }
  const std::uint32_t first = next_frame_;
  next_frame_ += n;
  return static_cast<std::uint64_t>(first) * config_.frame_size;
}

void Umem::return_frames(std::uint64_t first_addr, std::uint32_t n) {
  if (n == 0) return;
  std::lock_guard lk(frames_mu_);
  auto first = static_cast<std::uint32_t>(first_addr / config_.frame_size);
  if (first + n == next_frame_) {
    next_frame_ = first;  // the last range lent: the bump pointer takes it back
  } else {
    returned_.emplace_back(first, n);
  }
  // Merge adjacent returned ranges, and give the tail back to the bump pointer.
  std::sort(returned_.begin(), returned_.end());
  std::vector<std::pair<std::uint32_t, std::uint32_t>> merged;
  for (const auto& r : returned_) {
    if (!merged.empty() && merged.back().first + merged.back().second == r.first)
      merged.back().second += r.second;
    else
      merged.push_back(r);
  }
  while (!merged.empty() && merged.back().first + merged.back().second == next_frame_) {
    next_frame_ = merged.back().first;
    merged.pop_back();
  }
  returned_ = std::move(merged);
}

std::uint32_t Umem::frames_left() const {
  std::lock_guard lk(frames_mu_);
  std::uint32_t left = config_.frame_count - next_frame_;
  for (const auto& r : returned_) left += r.second;
  return left;
}

}  // namespace netring::xdp
