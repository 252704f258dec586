#include "pkg/capture/packet_source.hpp"

#include <linux/if_packet.h>

#include <algorithm>

#include "pkg/packet/filter.hpp"

namespace netring::capture {

Result<std::size_t> PacketSource::poll_batch(std::span<PacketView> out) {
  std::size_t n = 0;
  while (n < out.size()) {
    const std::size_t want = std::min(out.size() - n, scratch_.size());
    const std::size_t got = sock_.ring().next_batch(std::span(scratch_.data(), want));
    for (std::size_t i = 0; i < got; ++i) {
      const packet::RingPacket& p = scratch_[i];
      PacketView& v = out[n + i];
      v.data = p.data;
      v.len = p.snaplen;
      v.orig_len = p.len;
      v.timestamp_ns = p.timestamp_ns;
      v.ifindex = p.ifindex;
      v.queue = 0;
      // sll_pkttype: OUTGOING is a copy of what this host transmits; HOST,
      // BROADCAST, MULTICAST and OTHERHOST were all received.
      v.direction = p.pkttype == PACKET_OUTGOING ? Direction::kEgress : Direction::kIngress;
      bytes_ += p.snaplen;
    }
    n += got;
    if (got < want) break;
  }
  delivered_ += n;
  return n;
}

Result<void> PacketSource::wait(int timeout_ms) {
  auto r = sock_.wait(timeout_ms);
  if (!r) return std::move(r).take_error();
  return ok();
}

Stats PacketSource::stats() {
  Stats s;
  s.packets = delivered_;
  s.bytes = bytes_;
  // A failed read keeps the last totals: stats are best effort, and the
  // socket cannot be in a state where PACKET_STATISTICS fails for long.
  if (auto k = sock_.stats(); k) {
    s.kernel_drops = k->drops;
    s.ring_full = k->freeze_q_cnt;
  }
  return s;
}

Result<std::string> attach_sampler(int fd, std::uint32_t rate, std::uint32_t snap_len, bool allow_ebpf,
                                   const packet::LogSink& log) {
  if (rate == 1 && snap_len == 0) return std::string("none");
  if (allow_ebpf) {
    auto prog = packet::EbpfSampler::load(rate, snap_len);
    if (prog) {
      auto att = packet::attach_ebpf(fd, prog->prog_fd(), "1-in-" + std::to_string(rate) + " sampler");
      if (att) return std::string("eBPF");
      packet::log_line(log, "eBPF sampling filter not attached (" + att.error().message() + "), using classic BPF");
    } else {
      packet::log_line(log, "eBPF sampling filter not loaded (" + prog.error().message() + "), using classic BPF");
    }
  }
  auto prog = packet::classic_sampler(rate, snap_len);
  if (auto att = packet::attach_classic(fd, prog, "1-in-" + std::to_string(rate) + " sampler"); !att)
    return std::move(att).take_error();
  return std::string("classic");
}

Result<std::vector<std::unique_ptr<Source>>> open_packet(const PacketSourceOptions& opts) {
  if (opts.members == 0) return Error::invalid("capture::open_packet", "0 fanout members");
  std::vector<std::unique_ptr<Source>> out;
  packet::FanoutGroup group(opts.fanout);
  const std::string ifname = opts.interface.empty() ? std::string("all interfaces") : opts.interface;
  for (unsigned i = 0; i < opts.members; ++i) {
    auto sock = packet::PacketSocket::create(packet::SocketOptions{.interface = opts.interface,
                                                                   .ring = opts.ring,
                                                                   .promiscuous = opts.promiscuous,
                                                                   .ignore_outgoing = opts.ignore_outgoing,
                                                                   .log = opts.log});
    if (!sock) return std::move(sock).take_error();
    auto filter = attach_sampler(sock->fd(), opts.sample_rate, opts.snap_len, opts.allow_ebpf_filter, opts.log);
    if (!filter) return std::move(filter).take_error();
    if (auto st = sock->start(); !st) return std::move(st).take_error();
    // Between start() and the join, this member alone gets every packet;
    // traffic captured in that instant may also reach later members. The
    // kernel has no way to join before bind.
    if (opts.members > 1) {
      if (auto j = group.join(sock->fd()); !j) return std::move(j).take_error();
    }
    std::string d = "AF_PACKET " + ifname + " TPACKET_V3 " + std::to_string(sock->ring().geometry().block_count) + "x" +
                    std::to_string(sock->ring().geometry().block_size >> 10) + "KiB, " +
                    packet::to_string(sock->timestamp_source()) + " timestamps";
    if (*filter != "none") d += ", " + *filter + " 1-in-" + std::to_string(opts.sample_rate) + " filter";
    if (opts.members > 1)
      d += ", fanout " + std::string(packet::to_string(opts.fanout.mode)) + " group " +
           std::to_string(group.id().value_or(0)) + " member " + std::to_string(i + 1) + "/" +
           std::to_string(opts.members);
    out.push_back(std::make_unique<PacketSource>(std::move(*sock), std::move(d)));
  }
  return out;
}

}  // namespace netring::capture
