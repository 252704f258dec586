// capture::open(): AF_XDP when it can serve, AF_PACKET otherwise, and why.
#include <algorithm>

#include "pkg/capture/packet_source.hpp"
#include "pkg/capture/source.hpp"
#include "pkg/capture/xdp_source.hpp"

namespace netring::capture {
namespace {

// OpenRequest speaks in AF_XDP terms (ring_size descriptors of frame_size
// bytes); the TPACKET_V3 ring gets about the same memory, in 1 MiB blocks
// (smaller when the whole ring is smaller), at least two of them.
packet::RingGeometry geometry_for(const OpenRequest& req) {
  const std::uint64_t total =
      std::max<std::uint64_t>(static_cast<std::uint64_t>(req.ring_size) * req.frame_size, 2U << 16);
  std::uint32_t block = 1U << 20;
  while (block > (1U << 16) && total / block < 2) block >>= 1;
  packet::RingGeometry g;
  g.block_size = block;
  g.block_count = static_cast<std::uint32_t>(std::max<std::uint64_t>(2, total / block));
  g.frame_size = std::clamp<std::uint32_t>(req.frame_size, 2048, block);
  return g;
}

Result<std::vector<std::unique_ptr<Source>>> open_af_packet(const OpenRequest& req) {
  PacketSourceOptions o;
  o.interface = req.interface;
  o.ring = geometry_for(req);
  o.promiscuous = true;
  o.sample_rate = req.sample_rate;
  o.snap_len = req.snap_len;
  o.allow_ebpf_filter = req.allow_ebpf_filter;
  // As many readers as AF_XDP would have had sockets, splitting by flow.
  o.members = static_cast<unsigned>(std::max<std::size_t>(1, req.queues.size()));
  o.fanout = packet::FanoutOptions{.mode = packet::FanoutMode::kHash, .defrag = true};
  return open_packet(o);
}

}  // namespace

Result<Opened> open(const OpenRequest& req) {
  if (req.interface.empty()) return Error::invalid("capture::open", "no interface given");
  Opened out;
  switch (req.mode) {
    case OpenRequest::Mode::kForceAfPacket: {
      auto p = open_af_packet(req);
      if (!p) return std::move(p).take_error();
      out.sources = std::move(*p);
      out.backend = Backend::kAfPacket;
      return out;
    }
    case OpenRequest::Mode::kForceAfXdp: {
      auto x = open_xdp(req);
      if (!x) return std::move(x).take_error();
      out.sources = std::move(*x);
      out.backend = Backend::kAfXdp;
      return out;
    }
    case OpenRequest::Mode::kAuto: break;
  }
  auto x = open_xdp(req);
  if (x) {
    out.sources = std::move(*x);
    out.backend = Backend::kAfXdp;
    return out;
  }
  const std::string reason = "AF_XDP unavailable on " + req.interface + ": " + x.error().message();
  auto p = open_af_packet(req);
  if (!p) {
    Error e = std::move(p).take_error();
    return Error(e.op(), e.code(), e.context(), reason + (e.hint().empty() ? "" : "; " + e.hint()));
  }
  out.sources = std::move(*p);
  out.backend = Backend::kAfPacket;
  out.fallback_reason = reason;
  return out;
}

}  // namespace netring::capture
