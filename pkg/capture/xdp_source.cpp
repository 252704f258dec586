// AF_XDP behind the capture::Source interface: one socket per queue on one
// shared UMEM, fed by netring's XSKMAP redirect program.
#include "pkg/capture/xdp_source.hpp"

#include <algorithm>

#include "pkg/xdp/builder.hpp"
#include "pkg/xdp/netdev.hpp"
#include "pkg/xdp/redirect_program.hpp"

namespace netring::capture {

namespace {

class XdpSource final : public Source {
 public:
  XdpSource(xdp::XdpSocket sock, std::shared_ptr<xdp::RedirectProgram> prog, std::uint32_t snap_len,
            std::size_t umem_bytes)
      : sock_(std::move(sock)), prog_(std::move(prog)), snap_len_(snap_len), umem_bytes_(umem_bytes) {}

  ~XdpSource() override {
    // Take our socket out of the map first, so the program stops
    // redirecting to a socket that is going away.
    if (prog_) (void)prog_->unregister_socket(sock_.queue());
  }

  Result<std::size_t> poll_batch(std::span<PacketView> out) override {
    const std::uint32_t ifindex = sock_.ifindex();
    const std::uint32_t queue = sock_.queue();
    const std::uint32_t snap = snap_len_;
    PacketView* const v = out.data();
    std::size_t n = 0;
    // A multi-buffer packet is shown by its first fragment (headers are
    // there); orig_len tells the whole length.
    auto got = sock_.receive_each(static_cast<std::uint32_t>(std::min<std::size_t>(out.size(), UINT32_MAX)),
                                  [&](const std::byte* data, std::uint32_t len, std::uint32_t total) {
                                    if (snap != 0 && len > snap) len = snap;
                                    v[n++] = PacketView{data, len, total, 0, ifindex, queue, Direction::kIngress};
                                  });
    if (!got) return std::move(got).take_error();
    return n;
  }

  void release() override { sock_.release(); }

  Result<void> wait(int timeout_ms) override {
    auto r = sock_.wait(timeout_ms);
    if (!r) return std::move(r).take_error();
    return ok();
  }

  int fd() const override { return sock_.fd(); }
  std::size_t umem_bytes() const override { return umem_bytes_; }
  bool zero_copy() const override { return sock_.zero_copy(); }

  Stats stats() override {
    Stats s;
    auto st = sock_.stats();
    if (!st) return s;
    s.packets = st->rx_packets;
    s.bytes = st->rx_bytes;
    s.kernel_drops = st->kernel.rx_dropped + st->kernel.rx_ring_full;
    s.ring_full = st->kernel.rx_ring_full;
    s.fill_empty = st->kernel.rx_fill_ring_empty_descs;
    s.invalid = st->kernel.rx_invalid_descs + st->rx_invalid_packets;
    return s;
  }

  Backend backend() const override { return Backend::kAfXdp; }

  std::string describe() const override {
    std::string d = sock_.describe();
    if (prog_) {
      d += prog_->native() ? ", redirect program native"
                           : ", redirect program generic (" + prog_->fallback_reason() + ")";
    } else {
      d += ", caller's own XDP program";
    }
    return d;
  }

 private:
  xdp::XdpSocket sock_;
  std::shared_ptr<xdp::RedirectProgram> prog_;
  std::uint32_t snap_len_;
  std::size_t umem_bytes_;  // this socket's frames of the shared UMEM
};

}  // namespace

Result<std::vector<std::unique_ptr<Source>>> open_xdp(const OpenRequest& req) {
  if (req.queues.empty()) return Error::invalid("AF_XDP capture", req.interface + ": no queues requested");
  auto info = xdp::netdev_info(req.interface);
  if (!info) return std::move(info).take_error();

  std::shared_ptr<xdp::RedirectProgram> prog;
  if (req.attach_redirect_program) {
    xdp::RedirectOptions ro;
    ro.miss_action = xdp::MissAction::kPass;
    ro.require_native = req.require_native_xdp;
    auto p = xdp::RedirectProgram::attach(info->ifindex, ro);
    if (!p) return std::move(p).take_error();
    prog = std::make_shared<xdp::RedirectProgram>(std::move(*p));
  }

  xdp::XdpSocketBuilder proto;
  proto.interface(req.interface).rx_ring(req.ring_size).frame_size(req.frame_size);
  if (req.fill_size != 0) proto.fill_ring(req.fill_size);
  if (auto v = proto.validate(); !v) return std::move(v).take_error();
  xdp::UmemConfig uc;
  uc.frame_size = req.frame_size;
  uc.frame_count = proto.frames_needed() * static_cast<std::uint32_t>(req.queues.size());
  auto umem = xdp::Umem::create(uc);
  if (!umem) return std::move(umem).take_error();

  std::vector<std::unique_ptr<Source>> sources;
  for (std::uint32_t q : req.queues) {
    auto s = xdp::XdpSocketBuilder(proto).queue(q).shared_umem(*umem).build();
    if (!s) return std::move(s).take_error();
    if (prog) {
      if (auto r = prog->register_socket(q, s->fd()); !r) return std::move(r).take_error();
    }
    sources.push_back(std::make_unique<XdpSource>(std::move(*s), prog, req.snap_len,
                                                  std::size_t{proto.frames_needed()} * req.frame_size));
  }
  return sources;
}

}  // namespace netring::capture
