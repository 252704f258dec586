#include "pkg/datapath/capture_port.hpp"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "pkg/capture/packet_source.hpp"
#include "pkg/capture/xdp_source.hpp"
#include "pkg/common/fd.hpp"
#include "pkg/datapath/link_stats.hpp"
#include "pkg/xdp/ffi.hpp"
#include "pkg/xdp/netdev.hpp"
#include "pkg/xdp/redirect_program.hpp"

namespace netring::datapath {

const char* to_string(CaptureXdpMode m) {
  switch (m) {
    case CaptureXdpMode::kAuto: return "auto";
    case CaptureXdpMode::kNative: return "native";
    case CaptureXdpMode::kGeneric: return "generic";
  }
  return "?";
}

namespace {

// Ethernet header and one VLAN tag on top of the MTU: the longest frame
// the port receives.
constexpr std::uint32_t kL2Overhead = 14 + 4;

// RX queues the driver has enabled (ETHTOOL_GCHANNELS: rx + combined),
// which may be fewer than the IFLA_NUM_RX_QUEUES it allocated; binding an
// AF_XDP socket past them fails. The ioctl answers for the calling
// thread's namespace, unlike sysfs.
std::uint32_t rx_queues_in_use(const xdp::NetdevInfo& info) {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (s) {
    ethtool_channels ch{};
    ch.cmd = ETHTOOL_GCHANNELS;
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, info.name.c_str(), IFNAMSIZ - 1);
    ifr.ifr_data = reinterpret_cast<char*>(&ch);
    if (::ioctl(s.get(), SIOCETHTOOL, &ifr) == 0 && ch.rx_count + ch.combined_count > 0)
      return std::min(ch.rx_count + ch.combined_count, std::max<std::uint32_t>(info.rx_queues, 1));
  }
  return std::max<std::uint32_t>(info.rx_queues, 1);
}

class XdpCounter final : public CapturePortCounter {
 public:
  XdpCounter(std::shared_ptr<const xdp::RedirectProgram> prog, std::uint32_t queues)
      : prog_(std::move(prog)), queues_(queues) {}
  Result<CapturePortCounts> read() const override {
    auto t = prog_->totals(queues_);
    if (!t) return std::move(t).take_error();
    return CapturePortCounts{t->packets, t->bytes, t->skipped, t->redirected, t->missed};
  }

 private:
  std::shared_ptr<const xdp::RedirectProgram> prog_;
  std::uint32_t queues_;
};

// Counts from the device, from the moment the port was opened.
class LinkCounter final : public CapturePortCounter {
 public:
  LinkCounter(LinkStats stats, LinkCounts base) : stats_(std::move(stats)), base_(base) {}
  Result<CapturePortCounts> read() const override {
    auto c = stats_.read();
    if (!c) return std::move(c).take_error();
    CapturePortCounts out;
    out.frames = c->rx_packets - std::min(c->rx_packets, base_.rx_packets);
    out.bytes = c->rx_bytes - std::min(c->rx_bytes, base_.rx_bytes);
    return out;
  }

 private:
  LinkStats stats_;
  LinkCounts base_;
};

Result<CapturePort> open_xdp_port(const CapturePortOptions& opts, const xdp::NetdevInfo& info, std::uint32_t queues,
                                  std::uint32_t ring) {
  // A frame longer than one UMEM frame would need multi-buffer sockets; the
  // parser wants only the headers, but the kernel copies whole frames.
  const std::uint32_t longest = info.mtu + kL2Overhead;
  const std::uint32_t frame = opts.frame_size != 0                          ? opts.frame_size
                              : longest + xdp::ffi::kPacketHeadroom <= 2048 ? 2048
                                                                            : 4096;
  if (longest + xdp::ffi::kPacketHeadroom > frame)
    return Error(
        "AF_XDP capture port", EMSGSIZE, info.name,
        "MTU " + std::to_string(info.mtu) + " frames do not fit a " + std::to_string(frame) + "-byte AF_XDP frame");
  xdp::RedirectOptions ro;
  ro.miss_action = xdp::MissAction::kDrop;  // copies only
  ro.require_native = opts.xdp_mode == CaptureXdpMode::kNative;
  ro.force_generic = opts.xdp_mode == CaptureXdpMode::kGeneric;
  ro.count_frames = true;
  ro.sample_rate = opts.sample_rate;
  auto p = xdp::RedirectProgram::attach(info.ifindex, ro);
  if (!p) return std::move(p).take_error();
  auto prog = std::make_shared<xdp::RedirectProgram>(std::move(p).value());

  capture::OpenRequest req;
  req.interface = info.name;
  req.queues.clear();
  for (std::uint32_t q = 0; q < queues; ++q) req.queues.push_back(q);
  req.mode = capture::OpenRequest::Mode::kForceAfXdp;
  req.attach_redirect_program = false;  // ours, counting and sampling
  req.snap_len = opts.snap_len;
  req.frame_size = frame;
  req.ring_size = ring;
  req.fill_size = ring;
  auto open_sockets = [&]() -> Result<std::vector<std::unique_ptr<capture::Source>>> {
    if (!opts.umem_per_queue) return capture::open_xdp(req);
    std::vector<std::unique_ptr<capture::Source>> out;
    for (std::uint32_t q = 0; q < queues; ++q) {  // each open_xdp() call makes a UMEM of its own
      capture::OpenRequest one = req;
      one.queues = {q};
      auto s = capture::open_xdp(one);
      if (!s) return std::move(s).take_error();
      out.push_back(std::move(s->front()));
    }
    return out;
  };
  // A queue stays busy for a moment after the sockets of a port released
  // just before closed (the kernel frees its buffer pool asynchronously): a
  // port that comes back at once retries EBUSY briefly before it counts.
  auto sources = open_sockets();
  for (int i = 0; i < 50 && !sources && sources.error().code() == EBUSY; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    sources = open_sockets();
  }
  if (!sources) return std::move(sources).take_error();

  CapturePort port;
  port.backend = capture::Backend::kAfXdp;
  port.xdp_mode = prog->native() ? "native" : "generic";
  port.reason = prog->fallback_reason();
  port.zero_copy = true;
  port.queues = queues;
  port.frame_size = frame;
  port.ring_size = ring;
  for (std::uint32_t q = 0; q < queues; ++q) {
    auto& src = (*sources)[q];  // in queue order
    if (auto r = prog->register_socket(q, src->fd()); !r) return std::move(r).take_error();
    port.zero_copy = port.zero_copy && src->zero_copy();
    port.streams.push_back(
        std::make_unique<SampleStream>(std::move(src), prog, SampleStream::Mode::kDirect, opts.sample_rate));
  }
  port.counter = std::make_shared<XdpCounter>(prog, queues);
  return port;
}

// Only what the port received: PACKET_IGNORE_OUTGOING does not reach a
// fanout group's hook (that takes PACKET_FANOUT_FLAG_IGNORE_OUTGOING, Linux
// 6.3+), so the port's own transmissions (IPv6 neighbour discovery, ...)
// are dropped here, by their packet type.
class IncomingOnly final : public capture::Source {
 public:
  explicit IncomingOnly(std::unique_ptr<capture::Source> s) : s_(std::move(s)) {}
  Result<std::size_t> poll_batch(std::span<capture::PacketView> out) override {
    auto n = s_->poll_batch(out);
    if (!n) return n;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < *n; ++i)
      if (out[i].direction != capture::Direction::kEgress) out[kept++] = out[i];
    return kept;
  }
  void release() override { s_->release(); }
  Result<void> wait(int timeout_ms) override { return s_->wait(timeout_ms); }
  int fd() const override { return s_->fd(); }
  capture::Stats stats() override { return s_->stats(); }
  capture::Backend backend() const override { return s_->backend(); }
  std::string describe() const override { return s_->describe() + ", incoming only"; }

 private:
  std::unique_ptr<capture::Source> s_;
};

Result<CapturePort> open_tpacket_port(const CapturePortOptions& opts, const xdp::NetdevInfo& info, std::uint32_t queues,
                                      std::string reason) {
  auto stats = LinkStats::open(info.ifindex);
  if (!stats) return std::move(stats).take_error();
  auto base = stats->read();
  if (!base) return std::move(base).take_error();
  capture::PacketSourceOptions o;
  o.interface = info.name;
  o.promiscuous = true;
  o.ignore_outgoing = true;  // a capture port's own transmissions are not copies (see IncomingOnly)
  o.sample_rate = opts.sample_rate;
  o.snap_len = opts.snap_len;
  o.members = queues;
  o.fanout = packet::FanoutOptions{.mode = packet::FanoutMode::kHash, .defrag = true};
  auto sources = capture::open_packet(o);
  if (!sources) {
    Error e = std::move(sources).take_error();
    return Error(e.op(), e.code(), e.context(), reason + (e.hint().empty() ? "" : "; " + e.hint()));
  }
  CapturePort port;
  port.backend = capture::Backend::kAfPacket;
  port.reason = std::move(reason);
  port.queues = queues;
  for (auto& s : *sources)
    port.streams.push_back(std::make_unique<SampleStream>(std::make_unique<IncomingOnly>(std::move(s)), nullptr,
                                                          SampleStream::Mode::kDirect, opts.sample_rate));
  port.counter = std::make_shared<LinkCounter>(std::move(*stats), *base);
  return port;
}

}  // namespace

Result<CapturePort> open_capture_port(const CapturePortOptions& opts) {
  if (opts.sample_rate == 0) return Error::invalid("capture port", opts.interface + ": sample rate 0 (1-in-N, N >= 1)");
  auto info = xdp::netdev_info(opts.interface);
  if (!info) return std::move(info).take_error();
  const std::uint32_t queues = opts.queues != 0 ? opts.queues : rx_queues_in_use(*info);
  const std::uint32_t ring = opts.ring_size != 0 ? opts.ring_size : kDefaultCaptureRing;
  auto x = open_xdp_port(opts, *info, queues, ring);
  if (x) return x;
  return open_tpacket_port(opts, *info, queues, "XDP on " + opts.interface + " unavailable: " + x.error().message());
}

}  // namespace netring::datapath
