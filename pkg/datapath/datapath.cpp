#include "pkg/datapath/datapath.hpp"

#include <algorithm>
#include <cstddef>
#include <utility>

#include <ifaddrs.h>
#include <netinet/in.h>

#include "pkg/capture/direct_capture.hpp"
#include "pkg/capture/packet_source.hpp"
#include "pkg/capture/xdp_source.hpp"
#include "pkg/datapath/heartbeat.hpp"
#include "pkg/xdp/redirect_program.hpp"

namespace netring::datapath {
namespace {

netring_role to_bpf(Role r) {
  return r == Role::kPhysical ? NETRING_ROLE_PHYSICAL : NETRING_ROLE_POD;
}

packet::RingGeometry ring_for(const CaptureOptions& opts) {
  packet::RingGeometry g;
  g.block_count = opts.packet_block_count < 2 ? 2 : opts.packet_block_count;
  return g;
}

}  // namespace

const char* to_string(Rung r) {
  switch (r) {
    case Rung::kAfXdpMirror: return "AF_XDP on the mirror link";
    case Rung::kAfPacketMirror: return "TPACKET_V3 on the mirror link";
    case Rung::kAfPacketDirect: return "TPACKET_V3 on hooked interfaces with a sampling socket filter";
  }
  return "?";
}

Result<std::unique_ptr<Datapath>> Datapath::create(const DatapathOptions& opts) {
  std::unique_ptr<Datapath> d(new Datapath());
  d->opts_ = opts;
  if (d->opts_.workers == 0) d->opts_.workers = 1;
  d->opts_.mirror.queues = d->opts_.workers;
  d->opts_.programs.mirror_queues = d->opts_.workers;
  d->features_ = probe_features();
  const Rung highest = opts.highest_rung.value_or(Rung::kAfXdpMirror);

  auto step = [&](Rung r, bool taken, std::string why) { d->ladder_.push_back({r, taken, std::move(why)}); };

  bool bpf = d->features_.bpf_loading && highest != Rung::kAfPacketDirect;
  if (highest == Rung::kAfPacketDirect) {
    step(Rung::kAfXdpMirror, false, "skipped by configuration");
    step(Rung::kAfPacketMirror, false, "skipped by configuration");
  } else if (!d->features_.bpf_loading) {
    step(Rung::kAfXdpMirror, false, "BPF programs cannot be loaded: " + d->features_.bpf_error);
    step(Rung::kAfPacketMirror, false, "BPF programs cannot be loaded");
  }
  if (bpf) {
    auto progs = Programs::load(d->opts_.programs);
    if (!progs) {
      bpf = false;
      const std::string why = "loading the sampler failed: " + progs.error().message();
      step(Rung::kAfXdpMirror, false, why);
      step(Rung::kAfPacketMirror, false, why);
    } else {
      d->programs_.emplace(std::move(progs).value());
    }
  }
  if (!bpf) {
    d->rung_ = Rung::kAfPacketDirect;
    step(Rung::kAfPacketDirect, true, "sampling socket filter on each hooked interface, incoming packets only");
    return d;
  }

  auto link = MirrorLink::create(d->opts_.mirror);
  if (!link) return std::move(link).take_error();
  d->mirror_.emplace(std::move(link).value());
  auto mh = TcHook::attach(d->mirror_->near_ifindex(), HookPoint::kEgress, d->programs_->mirror_fd(), opts.attach);
  if (!mh) return std::move(mh).take_error();
  d->mirror_hook_.emplace(std::move(mh).value());
  if (auto r = d->programs_->set_mirror_ifindex(static_cast<std::uint32_t>(d->mirror_->near_ifindex())); !r)
    return std::move(r).take_error();
  if (auto r = Heartbeat(d->programs_->heartbeat_map_fd()).beat(); !r) return std::move(r).take_error();

  const std::uint32_t snap = d->opts_.programs.snap_len;
  const bool snap_fits = snap != 0 && snap <= kMaxAfXdpSnapLen;
  if (highest == Rung::kAfXdpMirror && d->features_.af_xdp && snap_fits) {
    d->rung_ = Rung::kAfXdpMirror;
    step(Rung::kAfXdpMirror, true, d->mirror_->far_name() + ", " + std::to_string(d->opts_.workers) + " queue(s)");
  } else {
    step(Rung::kAfXdpMirror, false,
         highest != Rung::kAfXdpMirror ? "skipped by configuration"
         : !d->features_.af_xdp
             ? "AF_XDP unavailable: " + d->features_.af_xdp_error
             : "snap length " + std::to_string(snap) + " exceeds what one AF_XDP frame carries (at most " +
                   std::to_string(kMaxAfXdpSnapLen) + " bytes after the sample header)");
    d->rung_ = Rung::kAfPacketMirror;
    step(Rung::kAfPacketMirror, true, d->mirror_->far_name() + " with fanout");
  }
  return d;
}

Datapath::~Datapath() {
  // Hooks first: no clone may target a mirror that is going away.
  hooked_.clear();
  redirect_.reset();
  if (programs_) (void)Heartbeat(programs_->heartbeat_map_fd()).stop();
  mirror_hook_.reset();
  mirror_.reset();
}

Result<void> Datapath::hook(int ifindex, std::uint32_t rate, Role role) {
  if (mirror_ && (ifindex == mirror_->near_ifindex() || ifindex == mirror_->far_ifindex()))
    return Error::invalid("Datapath::hook", "ifindex " + std::to_string(ifindex) + " is the mirror link");
  Hooked& h = hooked_[ifindex];
  h.rate = rate;
  h.role = role;
  if (!programs_) return update_direct_rule();  // rung 3: the socket filter selects the interfaces
  if (auto r = programs_->set_interface(static_cast<std::uint32_t>(ifindex), rate, to_bpf(role)); !r) {
    if (!h.ingress) hooked_.erase(ifindex);
    return r;
  }
  if (!h.ingress) {
    auto in = TcHook::attach(ifindex, HookPoint::kIngress, programs_->sampler_ingress_fd(), opts_.attach);
    if (!in) {
      hooked_.erase(ifindex);
      return std::move(in).take_error();
    }
    h.ingress.emplace(std::move(in).value());
  }
  if (!h.egress) {
    auto eg = TcHook::attach(ifindex, HookPoint::kEgress, programs_->sampler_egress_fd(), opts_.attach);
    if (!eg) {
      hooked_.erase(ifindex);
      return std::move(eg).take_error();
    }
    h.egress.emplace(std::move(eg).value());
  }
  return ok();
}

Result<void> Datapath::unhook(int ifindex) {
  auto it = hooked_.find(ifindex);
  if (it == hooked_.end()) return ok();
  Result<void> out;
  if (it->second.ingress)
    if (auto r = it->second.ingress->detach(); !r) out = r;
  if (it->second.egress)
    if (auto r = it->second.egress->detach(); !r) out = r;
  hooked_.erase(it);
  if (!programs_) return update_direct_rule();
  if (programs_)
    if (auto r = programs_->remove_interface(static_cast<std::uint32_t>(ifindex)); !r && out) out = r;
  return out;
}

Result<void> Datapath::set_rate(int ifindex, std::uint32_t rate) {
  auto it = hooked_.find(ifindex);
  if (it == hooked_.end())
    return Error::invalid("Datapath::set_rate", "ifindex " + std::to_string(ifindex) + " is not hooked");
  return hook(ifindex, rate, it->second.role);
}

Result<void> Datapath::heartbeat() {
  if (!programs_) return ok();
  if (auto r = Heartbeat(programs_->heartbeat_map_fd()).beat(); !r) return r;
  for (auto& [ifindex, h] : hooked_)
    for (auto* hook : {&h.ingress, &h.egress}) {
      if (!*hook) continue;
      auto moved = (*hook)->ensure_first();
      if (!moved) return std::move(moved).take_error();
      if (*moved) ++order_restores_;
    }
  return ok();
}

Result<DatapathCounters> Datapath::counters() const {
  DatapathCounters c;
  if (!programs_) return c;
  auto ifs = programs_->all_interface_counters();
  if (!ifs) return std::move(ifs).take_error();
  c.interfaces = std::move(ifs).value();
  auto st = read_stage_counters(programs_->stats_map_fd(), programs_->mirror_stats_map_fd());
  if (!st) return std::move(st).take_error();
  c.stages = *st;
  auto cs = read_copy_scale(programs_->copy_scale_map_fd());
  if (!cs) return std::move(cs).take_error();
  c.copy_scale = *cs;
  if (redirect_) {
    for (std::uint32_t q = 0; mirror_ && q < mirror_->queues(); ++q) {
      auto x = redirect_->counters(q);
      if (!x) return std::move(x).take_error();
      c.xdp_redirects += x->redirected;
      c.xdp_misses += x->missed;
    }
  }
  return c;
}

std::map<int, std::uint32_t> Datapath::hooked_rates() const {
  std::map<int, std::uint32_t> out;
  for (const auto& [ifindex, h] : hooked_) out[ifindex] = h.rate;
  return out;
}

}  // namespace netring::datapath

namespace netring::datapath {

Result<std::vector<std::unique_ptr<SampleStream>>> Datapath::open_af_xdp(const CaptureOptions& opts) {
  xdp::RedirectOptions ro;
  ro.miss_action = xdp::MissAction::kDrop;  // the mirror carries copies only
  ro.require_native = true;                 // veth has native XDP; generic would segment and copy
  auto prog = xdp::RedirectProgram::attach(static_cast<std::uint32_t>(mirror_->far_ifindex()), ro);
  if (!prog) return std::move(prog).take_error();
  auto shared = std::make_shared<xdp::RedirectProgram>(std::move(prog).value());

  capture::OpenRequest req;
  req.interface = mirror_->far_name();
  req.queues.clear();
  for (std::uint32_t q = 0; q < mirror_->queues(); ++q) req.queues.push_back(q);
  req.mode = capture::OpenRequest::Mode::kForceAfXdp;
  req.attach_redirect_program = false;  // ours, with the drop miss action
  req.frame_size = std::max(opts.frame_size, afxdp_frame_size(opts_.programs.snap_len));
  req.ring_size = opts.ring_size;
  auto sources = capture::open_xdp(req);
  if (!sources) return std::move(sources).take_error();
  std::vector<std::unique_ptr<SampleStream>> out;
  for (std::size_t q = 0; q < sources->size(); ++q) {
    // open_xdp returns the sockets in the order of req.queues.
    if (auto r = shared->register_socket(static_cast<std::uint32_t>(q), (*sources)[q]->fd()); !r)
      return std::move(r).take_error();
    out.push_back(std::make_unique<SampleStream>(std::move((*sources)[q]), shared));
  }
  redirect_ = shared;

  // GSO clones: whole, into the far end's receive path, to a TPACKET_V3
  // fanout member per queue that copies their header and snap length (a
  // trim in the mirror program would copy each 64 KB clone whole first;
  // bench/results/ANALYSIS.md section 4). A sample takes some 270 bytes of
  // a block (header, sample header, snap length), so the default four
  // blocks of 256 KiB hold about 3,800, more than the AF_XDP ring beside
  // them (at rate 1 every GSO skb is one). Without the socket they are
  // trimmed in the program, as before, and the ladder says why.
  packet::RingGeometry g = ring_for(opts);
  g.block_size = 256U << 10;
  auto gso = open_mirror_sockets(g);
  std::string why;
  if (!gso) {
    why = "GSO clones trimmed in the mirror program (a copy of each): TPACKET_V3 socket for them failed: " +
          gso.error().message();
  } else if (auto r = programs_->set_gso_apart(static_cast<std::uint32_t>(mirror_->far_ifindex())); !r) {
    why = "GSO clones trimmed in the mirror program: " + r.error().message();
  } else {
    for (std::size_t q = 0; q < out.size() && q < gso->size(); ++q) out[q]->add_gso_source(std::move((*gso)[q]));
    why = "GSO clones whole to TPACKET_V3 on " + mirror_->far_name();
  }
  for (auto& st : ladder_)
    if (st.rung == Rung::kAfXdpMirror && st.taken) st.reason += "; " + why;
  return out;
}

Result<std::vector<std::unique_ptr<SampleStream>>> Datapath::open_sources(const CaptureOptions& opts) {
  if (rung_ == Rung::kAfXdpMirror) {
    auto s = open_af_xdp(opts);
    if (s) return s;
    // Down one rung, with the reason on the record.
    for (auto& st : ladder_)
      if (st.rung == Rung::kAfXdpMirror) {
        st.taken = false;
        st.reason = "AF_XDP capture failed: " + s.error().message();
      }
    rung_ = Rung::kAfPacketMirror;
    ladder_.push_back({Rung::kAfPacketMirror, true, mirror_->far_name() + " (after AF_XDP failed)"});
  }
  if (rung_ == Rung::kAfPacketMirror) return open_af_packet_mirror(opts);
  return open_direct(opts);
}

namespace {

// A Source owned elsewhere (the direct capture keeps its sockets, whose
// filters hook()/unhook() swap), kept alive by the stream that reads it.
class BorrowedSource final : public capture::Source {
 public:
  explicit BorrowedSource(capture::Source& s) : s_(s) {}
  Result<std::size_t> poll_batch(std::span<capture::PacketView> out) override { return s_.poll_batch(out); }
  void release() override { s_.release(); }
  Result<void> wait(int timeout_ms) override { return s_.wait(timeout_ms); }
  int fd() const override { return s_.fd(); }
  capture::Stats stats() override { return s_.stats(); }
  capture::Backend backend() const override { return s_.backend(); }
  std::string describe() const override { return s_.describe(); }

 private:
  capture::Source& s_;
};

}  // namespace

Result<std::vector<std::unique_ptr<capture::Source>>> Datapath::open_mirror_sockets(const packet::RingGeometry& ring) {
  capture::PacketSourceOptions o;
  o.interface = mirror_->far_name();
  o.ring = ring;
  o.sample_rate = 1;  // the sampler chose already
  // The socket filter keeps the sample header and snap_len bytes: tpacket_rcv
  // copies only those, so the mirror program need not trim the clone.
  const std::uint32_t snap = opts_.programs.snap_len;
  o.snap_len = snap == 0 ? 0 : static_cast<std::uint32_t>(sizeof(netring_sample_hdr)) + snap;
  o.members = mirror_->queues();
  // Without XDP, veth receives every queue on the transmitting CPU's
  // backlog: the sample header names the flow's queue (the sampler chose
  // it), and the fanout sends the frame to that member, so a flow stays with
  // its worker and each (CPU, queue) sequence stays in one ring, in order.
  o.fanout = packet::FanoutOptions{.mode = packet::FanoutMode::kFrameByte,
                                   .byte_offset = static_cast<std::uint16_t>(offsetof(netring_sample_hdr, queue))};
  return capture::open_packet(o);
}

Result<std::vector<std::unique_ptr<SampleStream>>> Datapath::open_af_packet_mirror(const CaptureOptions& opts) {
  auto sources = open_mirror_sockets(ring_for(opts));
  if (!sources) return std::move(sources).take_error();
  if (opts_.programs.snap_len != 0) programs_->set_reader_truncates(true);
  std::vector<std::unique_ptr<SampleStream>> out;
  for (auto& s : *sources) out.push_back(std::make_unique<SampleStream>(std::move(s)));
  return out;
}

Result<void> Datapath::update_direct_rule() {
  if (!direct_) return ok();  // not capturing yet: open_direct() sets the first rule
  packet::DirectCaptureRule rule;
  for (const auto& [ifindex, h] : hooked_) {
    rule.hooked.push_back(static_cast<std::uint32_t>(ifindex));
    if (h.role == Role::kPhysical) rule.physical.push_back(static_cast<std::uint32_t>(ifindex));
  }
  // The node's own addresses tell locally originated packets on a NIC.
  ifaddrs* ifa = nullptr;
  if (::getifaddrs(&ifa) != 0) return Error::from_errno("getifaddrs", "node addresses for the direct capture rule");
  for (ifaddrs* i = ifa; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    if (i->ifa_addr->sa_family == AF_INET)
      rule.local_v4.push_back(reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr);
    else if (i->ifa_addr->sa_family == AF_INET6)
      rule.local_v6.push_back(reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr);
  }
  ::freeifaddrs(ifa);
  return direct_->set_rule(rule);
}

Result<std::vector<std::unique_ptr<SampleStream>>> Datapath::open_direct(const CaptureOptions& opts) {
  capture::DirectCaptureOptions o;
  o.members = opts_.workers;
  o.sample_rate = opts.direct_sample_rate;
  o.snap_len = opts_.programs.snap_len;
  o.ring = ring_for(opts);
  auto dc = capture::DirectCapture::open(o);
  if (!dc) return std::move(dc).take_error();
  direct_ = std::make_shared<capture::DirectCapture>(std::move(dc).value());
  if (auto r = update_direct_rule(); !r) return std::move(r).take_error();
  std::vector<std::unique_ptr<SampleStream>> out;
  for (auto& s : direct_->sources())
    out.push_back(std::make_unique<SampleStream>(std::make_unique<BorrowedSource>(*s), direct_,
                                                 SampleStream::Mode::kDirect, opts.direct_sample_rate));
  return out;
}

}  // namespace netring::datapath
