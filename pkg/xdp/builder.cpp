#include "pkg/xdp/builder.hpp"

#include "pkg/xdp/features.hpp"
#include "pkg/xdp/netdev.hpp"

namespace netring::xdp {

namespace {

bool power_of_two(std::uint32_t n) {
  return n != 0 && (n & (n - 1)) == 0;
}

Result<void> check_ring(const char* name, std::uint32_t n, bool optional) {
  if (n == 0 && optional) return ok();
  if (!power_of_two(n))
    return Error::invalid("AF_XDP ring size",
                          std::string(name) + " ring of " + std::to_string(n) + " entries: not a power of two");
  return ok();
}

}  // namespace

std::uint32_t XdpSocketBuilder::frames_needed() const {
  return (rx_ ? fill_size() : 0) + tx_;
}

Result<void> XdpSocketBuilder::validate() const {
  if (ifname_.empty()) return Error::invalid("AF_XDP socket", "no interface given");
  if (rx_ == 0 && tx_ == 0) return Error::invalid("AF_XDP socket", "neither an RX nor a TX ring");
  if (auto r = check_ring("RX", rx_, true); !r) return r;
  if (auto r = check_ring("TX", tx_, true); !r) return r;
  if (auto r = check_ring("fill", fill_size(), false); !r) return r;
  if (auto r = check_ring("completion", comp_size(), false); !r) return r;
  if (!umem_) {
    UmemConfig c = umem_cfg_;
    if (c.frame_count == 0) c.frame_count = frames_needed();
    if (auto r = xdp::validate(c); !r) return r;
    if (c.frame_count < frames_needed())
      return Error::invalid("AF_XDP socket", "frame_count " + std::to_string(c.frame_count) + " below the " +
                                                 std::to_string(frames_needed()) + " frames the rings need");
  }
  if (umem_ && sg_)
    return Error::invalid("AF_XDP socket",
                          "a shared-UMEM bind takes no flags: multi-buffer is inherited from the UMEM's first socket");
  return ok();
}

Result<XdpSocket> XdpSocketBuilder::build() const {
  if (auto r = validate(); !r) return std::move(r).take_error();

  auto info = netdev_info(ifname_);
  if (!info) return std::move(info).take_error();
  const std::string ctx = ifname_ + " queue " + std::to_string(queue_);
  if (rx_ != 0 && queue_ >= info->rx_queues)
    return Error("AF_XDP queue", EINVAL, ctx,
                 "queue out of range: " + ifname_ + " has " + std::to_string(info->rx_queues) + " RX queues");
  if (tx_ != 0 && queue_ >= info->tx_queues)
    return Error("AF_XDP queue", EINVAL, ctx,
                 "queue out of range: " + ifname_ + " has " + std::to_string(info->tx_queues) + " TX queues");
  if (mode_ == BindMode::kZeroCopy) {
    // Ask the driver first when the kernel can tell (6.3+): a clearer
    // answer than bind's EOPNOTSUPP.
    if (auto f = driver_xdp_features(info->ifindex); f && f->known && !f->zero_copy())
      return Error("AF_XDP zero-copy", EOPNOTSUPP, ctx,
                   "zero-copy demanded but the driver does not support it (XDP features: " + f->describe() + ")");
  }

  XdpSocket s;
  s.ifname_ = ifname_;
  s.ifindex_ = info->ifindex;
  s.queue_ = queue_;
  s.mode_ = mode_;
  s.sg_ = sg_;

  if (umem_) {
    s.umem_ = umem_;
  } else {
    UmemConfig c = umem_cfg_;
    if (c.frame_count == 0) c.frame_count = frames_needed();
    auto u = Umem::create(c);
    if (!u) return std::move(u).take_error();
    s.umem_ = std::move(*u);
  }
  Umem& um = *s.umem_;
  if (um.broken()) return *um.broken();

  // Everything taken from the UMEM before bind is given back if the build
  // fails before the kernel has it (libxdp's xsk_socket__create unwinds the
  // same way): the frames, and the claim on the registration socket, so a
  // failed first socket does not leave the shared UMEM unusable.
  struct Unwind {
    Umem& um;
    bool claimed = false;      // this build took the registration socket
    bool rings_set = false;    // ... and sized rings on it
    std::uint64_t frames = 0;  // first frame taken
    std::uint32_t nframes = 0;
    bool bound = false;
    ~Unwind() {
      if (bound) return;
      um.return_frames(frames, nframes);
      if (claimed) um.unclaim_registration_fd(rings_set);
    }
  } unwind{um};

  if (um.claim_registration_fd()) {
    unwind.claimed = true;
    s.fd_ = um.fd();
  } else {
    if (!um.bound()) return Error::invalid("AF_XDP shared UMEM", ctx + ": the UMEM's first socket is not bound yet");
    auto fd = sys::open_socket(ctx);
    if (!fd) return std::move(fd).take_error();
    s.own_fd_ = std::move(*fd);
    s.fd_ = s.own_fd_.get();
    s.shared_ = true;
  }
  if (um.frames_left() < frames_needed())
    return Error("AF_XDP UMEM", ENOBUFS, ctx,
                 "the UMEM has " + std::to_string(um.frames_left()) + " free frames, this socket needs " +
                     std::to_string(frames_needed()));
  auto first = um.take_frames(frames_needed());
  if (!first) return std::move(first).take_error();
  unwind.frames = *first;
  unwind.nframes = frames_needed();

  const int fd = s.fd_;
  unwind.rings_set = !s.shared_;
  if (rx_ != 0)
    if (auto r = sys::set_ring_size(fd, XDP_RX_RING, rx_, ctx); !r) return std::move(r).take_error();
  if (tx_ != 0)
    if (auto r = sys::set_ring_size(fd, XDP_TX_RING, tx_, ctx); !r) return std::move(r).take_error();
  if (auto r = sys::set_ring_size(fd, XDP_UMEM_FILL_RING, fill_size(), ctx); !r) return std::move(r).take_error();
  if (auto r = sys::set_ring_size(fd, XDP_UMEM_COMPLETION_RING, comp_size(), ctx); !r) return std::move(r).take_error();

  auto off = query_mmap_offsets(fd);
  if (!off) return std::move(off).take_error();
  auto map = [&](RingKind k, std::uint32_t n, RingMapping& out) -> Result<void> {
    auto m = RingMapping::map(fd, k, *off, n);
    if (!m) return std::move(m).take_error();
    out = std::move(*m);
    return ok();
  };
  if (rx_ != 0) {
    if (auto r = map(RingKind::kRx, rx_, s.rx_map_); !r) return std::move(r).take_error();
    s.rx_ = RxRing(s.rx_map_.view());
  }
  if (tx_ != 0) {
    if (auto r = map(RingKind::kTx, tx_, s.tx_map_); !r) return std::move(r).take_error();
    s.tx_ = TxRing(s.tx_map_.view());
  }
  if (auto r = map(RingKind::kFill, fill_size(), s.fill_map_); !r) return std::move(r).take_error();
  s.fill_ = FillRing(s.fill_map_.view());
  if (auto r = map(RingKind::kCompletion, comp_size(), s.comp_map_); !r) return std::move(r).take_error();
  s.comp_ = CompletionRing(s.comp_map_.view());
  // Before bind: nothing may fail once the socket is bound (its frames are
  // the kernel's from then on, and could not be given back).
  if (busy_poll_.usecs || busy_poll_.budget || busy_poll_.prefer)
    if (auto r = sys::set_busy_poll(fd, busy_poll_, ctx); !r) return std::move(r).take_error();

  // Stock the fill ring before bind so the first packets find frames.
  const std::uint32_t fs = um.frame_size();
  s.rx_free_ = FrameAllocator(rx_ ? fill_size() : 0);
  s.tx_free_ = FrameAllocator(tx_);
  s.tx_data_offset_ = um.config().tx_metadata_len;
  std::uint64_t addr = *first;
  if (rx_ != 0) {
    std::uint32_t idx = 0;
    const std::uint32_t n = s.fill_.reserve(fill_size(), &idx);
    for (std::uint32_t i = 0; i < n; ++i, addr += fs) s.fill_.at(idx + i) = addr;
    s.fill_.submit(n);
  }
  for (std::uint32_t i = 0; i < tx_; ++i, addr += fs) s.tx_free_.push(addr);

  std::uint16_t flags = 0;
  if (s.shared_) {
    // Everything else (copy/zero-copy, need_wakeup, SG) is inherited from
    // the UMEM's first socket; the kernel rejects any other flag here.
    flags = XDP_SHARED_UMEM;
    s.need_wakeup_ = um.need_wakeup();
  } else {
    if (mode_ == BindMode::kCopy) flags |= XDP_COPY;
    if (mode_ == BindMode::kZeroCopy) flags |= XDP_ZEROCOPY;
    if (need_wakeup_ && off->has_flags) flags |= XDP_USE_NEED_WAKEUP;
    if (sg_) flags |= XDP_USE_SG;
    s.need_wakeup_ = (flags & XDP_USE_NEED_WAKEUP) != 0;
  }
  if (auto r = sys::bind(fd, info->ifindex, queue_, flags, s.shared_ ? um.fd() : -1, ctx); !r)
    return std::move(r).take_error();
  unwind.bound = true;
  if (!s.shared_) um.mark_bound(s.need_wakeup_);

  // XDP_OPTIONS cannot fail on a bound socket short of a kernel without
  // it (before 5.3), where zero-copy is not reported: copy is then assumed.
  auto zc = sys::zero_copy_in_force(fd);
  s.zero_copy_ = zc && *zc;

  s.packets_.resize(rx_);
  if (sg_) s.frags_.resize(rx_);
  if (!sg_) s.rx_descs_.resize(rx_);
  s.tx_slots_.resize(tx_);
  return s;
}

}  // namespace netring::xdp
