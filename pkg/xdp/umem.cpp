#include "pkg/xdp/umem.hpp"

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

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

  const std::string ctx = std::to_string(config.frame_count) + " frames x " + std::to_string(config.frame_size) + " B";
  auto fd = sys::open_socket("UMEM registration");
  if (!fd) return std::move(fd).take_error();
  u->fd_ = std::move(*fd);

  ffi::UmemReg reg{};
  reg.addr = reinterpret_cast<std::uintptr_t>(u->area_.data());
  reg.len = len;
  reg.chunk_size = config.frame_size;
  reg.headroom = config.headroom;
  reg.flags = config.unaligned ? XDP_UMEM_UNALIGNED_CHUNK_FLAG : 0;
  if (config.tx_metadata_len != 0) {
    reg.flags |= XDP_UMEM_TX_METADATA_LEN;
    reg.tx_metadata_len = config.tx_metadata_len;
  }
  if (::setsockopt(u->fd_.get(), SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg)) != 0) {
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
  return u;
}

Result<std::uint64_t> Umem::take_frames(std::uint32_t n) {
  std::uint32_t first = next_frame_.load();
  do {
    if (config_.frame_count - first < n)
      return Error("UMEM frames", ENOBUFS,
                   "need " + std::to_string(n) + ", " + std::to_string(config_.frame_count - first) + " left of " +
                       std::to_string(config_.frame_count),
                   "create the shared UMEM with enough frames for every socket");
  } while (!next_frame_.compare_exchange_weak(first, first + n));
  return static_cast<std::uint64_t>(first) * config_.frame_size;
}

}  // namespace netring::xdp
