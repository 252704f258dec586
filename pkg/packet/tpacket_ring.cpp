#include "pkg/packet/tpacket_ring.hpp"

#include <linux/if_packet.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <string>

namespace netring::packet {
namespace {

bool is_pow2(std::uint32_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

std::string describe(const RingGeometry& g) {
  return std::to_string(g.block_count) + " x " + std::to_string(g.block_size) + " B blocks, frame " +
         std::to_string(g.frame_size) + " B";
}

// The kernel writes a block's packets, then smp_wmb(), then block_status
// (prb_close_block / prb_retire_current_block); an acquire load here pairs
// with it, so every packet byte of a block seen as TP_STATUS_USER is
// visible. Giving a block back is a release store: all our reads of it
// happen before the kernel may see TP_STATUS_KERNEL and overwrite it.
std::uint32_t load_status(const std::byte* blk) {
  auto* desc = reinterpret_cast<tpacket_block_desc*>(const_cast<std::byte*>(blk));
  return std::atomic_ref<std::uint32_t>(desc->hdr.bh1.block_status).load(std::memory_order_acquire);
}
void store_status(std::byte* blk, std::uint32_t v) {
  auto* desc = reinterpret_cast<tpacket_block_desc*>(blk);
  std::atomic_ref<std::uint32_t>(desc->hdr.bh1.block_status).store(v, std::memory_order_release);
}

}  // namespace

bool RingPacket::vlan_valid() const {
  return (status & TP_STATUS_VLAN_VALID) != 0;
}
bool RingPacket::hardware_timestamp() const {
  return (status & TP_STATUS_TS_RAW_HARDWARE) != 0;
}

Result<void> validate(const RingGeometry& g) {
  const long page = ::sysconf(_SC_PAGESIZE);
  const std::string op = "TPACKET_V3 ring geometry";
  if (g.block_count == 0) return Error::invalid(op, "block count is 0");
  if (!is_pow2(g.block_size))
    return Error::invalid(op, "block size " + std::to_string(g.block_size) + " is not a power of two");
  if (g.block_size % page != 0)
    return Error::invalid(op, "block size " + std::to_string(g.block_size) + " is not a multiple of the page size (" +
                                  std::to_string(page) + ")");
  if (g.frame_size < TPACKET3_HDRLEN)
    return Error::invalid(op, "frame size " + std::to_string(g.frame_size) + " is smaller than the packet header (" +
                                  std::to_string(TPACKET3_HDRLEN) + ")");
  if (g.frame_size % TPACKET_ALIGNMENT != 0)
    return Error::invalid(op, "frame size " + std::to_string(g.frame_size) + " is not a multiple of " +
                                  std::to_string(TPACKET_ALIGNMENT));
  if (g.frame_size > g.block_size)
    return Error::invalid(
        op, "frame size " + std::to_string(g.frame_size) + " exceeds the block size " + std::to_string(g.block_size));
  if (g.total_bytes() > UINT_MAX) return Error::invalid(op, describe(g) + " exceeds the kernel's 4 GiB ring limit");
  if (g.retire_timeout_ms > UINT_MAX / 2) return Error::invalid(op, "retire timeout out of range");
  return ok();
}

std::optional<RingGeometry> shrink(const RingGeometry& g) {
  RingGeometry s = g;
  if (s.block_count > 2) {
    s.block_count /= 2;
    return s;
  }
  const auto page = static_cast<std::uint32_t>(::sysconf(_SC_PAGESIZE));
  if (s.block_size / 2 >= page && s.block_size / 2 >= s.frame_size) {
    s.block_size /= 2;
    return s;
  }
  return std::nullopt;
}

Result<RingGeometry> allocate_shrinking(const RingGeometry& geo,
                                        const std::function<int(const RingGeometry&)>& try_alloc, const LogSink& log,
                                        const std::string& what) {
  RingGeometry g = geo;
  for (;;) {
    const int err = try_alloc(g);
    if (err == 0) return g;
    if (err != ENOMEM) return Error("setsockopt(PACKET_RX_RING)", err, what + ": " + describe(g));
    auto smaller = shrink(g);
    if (!smaller)
      return Error("setsockopt(PACKET_RX_RING)", err, what + ": " + describe(g),
                   "no smaller ring left to try; free memory or lower the ring size");
    log_line(log,
             "TPACKET_V3 ring for " + what + ": ENOMEM with " + describe(g) + ", retrying with " + describe(*smaller));
    g = *smaller;
  }
}

Result<TpacketRing> TpacketRing::create(int fd, const RingGeometry& geo, const LogSink& log, const std::string& what) {
  if (auto v = validate(geo); !v) return std::move(v).take_error();
  const int version = TPACKET_V3;
  if (::setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) != 0)
    return Error::from_errno("setsockopt(PACKET_VERSION, TPACKET_V3)", what);

  auto got = allocate_shrinking(
      geo,
      [fd](const RingGeometry& g) {
        tpacket_req3 req{};
        req.tp_block_size = g.block_size;
        req.tp_block_nr = g.block_count;
        req.tp_frame_size = g.frame_size;
        req.tp_frame_nr = g.frame_count();
        req.tp_retire_blk_tov = g.retire_timeout_ms;
        req.tp_sizeof_priv = 0;
        req.tp_feature_req_word = 0;
        return ::setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) == 0 ? 0 : errno;
      },
      log, what);
  if (!got) return std::move(got).take_error();

  // MAP_LOCKED is not needed: ring pages are kernel pages mapped into us and
  // cannot be swapped out. MAP_POPULATE avoids a fault per page on first use.
  auto map = Mapping::map(got->total_bytes(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0,
                          "TPACKET_V3 RX ring " + what);
  if (!map) {
    // Leave the socket without a ring so a caller may retry; a zero-sized
    // request tears the ring down.
    Error e = std::move(map).take_error();
    tpacket_req3 none{};
    (void)::setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &none, sizeof(none));
    return e;
  }
  return TpacketRing(std::move(*map), *got);
}

bool TpacketRing::ready() const {
  if (in_block_) return left_ > 0;
  if (held_ == geo_.block_count) return false;
  return (load_status(block(cur_)) & TP_STATUS_USER) != 0;
}

std::size_t TpacketRing::next_batch(std::span<RingPacket> out) {
  std::size_t n = 0;
  while (n < out.size()) {
    if (!in_block_) {
      // Every block is ours already: the one at cur_ is the oldest held one
      // and still reads as TP_STATUS_USER, so stop instead of re-reading it.
      if (held_ == geo_.block_count) break;
      std::byte* blk = block(cur_);
      const std::uint32_t status = load_status(blk);
      if ((status & TP_STATUS_USER) == 0) break;
      last_block_status_ = status;
      const auto& bh = reinterpret_cast<const tpacket_block_desc*>(blk)->hdr.bh1;
      left_ = bh.num_pkts;
      next_pkt_ = blk + bh.offset_to_first_pkt;
      in_block_ = true;
    }
    // The packets of this block that fit: a tight loop with no block
    // bookkeeping inside.
    const std::size_t take = std::min<std::size_t>(left_, out.size() - n);
    const std::byte* pkt = next_pkt_;
    for (std::size_t i = 0; i < take; ++i) {
      const auto* h = reinterpret_cast<const tpacket3_hdr*>(pkt);
      const auto* sll = reinterpret_cast<const sockaddr_ll*>(pkt + TPACKET_ALIGN(sizeof(tpacket3_hdr)));
      RingPacket& p = out[n + i];
      p.data = pkt + h->tp_mac;
      p.snaplen = h->tp_snaplen;
      p.len = h->tp_len;
      p.timestamp_ns = static_cast<std::uint64_t>(h->tp_sec) * 1000000000ULL + h->tp_nsec;
      p.status = h->tp_status;
      p.ifindex = static_cast<std::uint32_t>(sll->sll_ifindex);
      p.pkttype = sll->sll_pkttype;
      const bool vlan = (h->tp_status & TP_STATUS_VLAN_VALID) != 0;
      p.vlan_tci = vlan ? static_cast<std::uint16_t>(h->hv1.tp_vlan_tci) : 0;
      p.vlan_tpid = !vlan ? 0 : (h->tp_status & TP_STATUS_VLAN_TPID_VALID) ? h->hv1.tp_vlan_tpid : 0x8100;
      pkt += h->tp_next_offset;
    }
    next_pkt_ = pkt;
    n += take;
    left_ -= static_cast<std::uint32_t>(take);
    if (left_ == 0) {
      in_block_ = false;
      ++held_;
      cur_ = cur_ + 1 == geo_.block_count ? 0 : cur_ + 1;
    }
  }
  return n;
}

void TpacketRing::release() {
  for (; held_ > 0; --held_) {
    store_status(block(first_held_), TP_STATUS_KERNEL);
    first_held_ = first_held_ + 1 == geo_.block_count ? 0 : first_held_ + 1;
  }
}

}  // namespace netring::packet
