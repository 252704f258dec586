#include "pkg/datapath/sample.hpp"

#include <cstring>

namespace netring::datapath {

const char* to_string(DecodeStatus s) {
  switch (s) {
    case DecodeStatus::kOk: return "ok";
    case DecodeStatus::kTooShort: return "frame shorter than the sample header";
    case DecodeStatus::kNotSample: return "not a netring sample (EtherType/magic)";
    case DecodeStatus::kBadVersion: return "unknown sample header version";
    case DecodeStatus::kBadLength: return "sample header lengths disagree with the frame";
  }
  return "?";
}

DecodeStatus decode_sample(std::span<const std::byte> frame, Sample& out) {
  netring_sample_hdr h;
  if (frame.size() < sizeof h) return DecodeStatus::kTooShort;
  std::memcpy(&h, frame.data(), sizeof h);  // the frame need not be aligned
  const auto* b = reinterpret_cast<const std::uint8_t*>(frame.data());
  const unsigned proto = (static_cast<unsigned>(b[12]) << 8) | b[13];
  if (proto != NETRING_SAMPLE_ETH_P || h.magic != NETRING_SAMPLE_MAGIC) return DecodeStatus::kNotSample;
  if (h.version != NETRING_SAMPLE_VERSION) return DecodeStatus::kBadVersion;
  if (h.hdr_len != sizeof h || h.direction > NETRING_DIR_EGRESS) return DecodeStatus::kBadLength;
  const std::size_t data_len = frame.size() - sizeof h;
  const bool truncated = (h.flags & NETRING_SAMPLE_F_TRUNCATED) != 0;
  // Untruncated: the whole original is here. Truncated: exactly snap_len
  // bytes of a longer original.
  if (!truncated && data_len != h.orig_len) return DecodeStatus::kBadLength;
  if (truncated && (h.orig_len <= data_len || (h.snap_len != 0 && data_len != h.snap_len)))
    return DecodeStatus::kBadLength;

  SampleInfo& i = out.info;
  i.ifindex = h.ifindex;
  i.direction = static_cast<SampleDirection>(h.direction);
  i.rate = h.rate;
  i.orig_len = h.orig_len;
  i.gso_segs = h.gso_segs == 0 ? 1 : h.gso_segs;
  i.snap_len = h.snap_len;
  i.cpu = h.cpu;
  i.queue = h.queue;
  i.seq = h.seq;
  i.counted = (h.flags & NETRING_SAMPLE_F_COUNTED) != 0;
  i.tstamp_ns = h.tstamp_ns;
  i.truncated = truncated;
  i.has_vlan = (h.flags & NETRING_SAMPLE_F_VLAN) != 0;
  i.vlan_tci = i.has_vlan ? h.vlan_tci : 0;
  i.vlan_proto = i.has_vlan ? h.vlan_proto : 0;
  out.frame = frame.subspan(sizeof h);
  return DecodeStatus::kOk;
}

std::uint64_t SequenceTracker::observe(std::uint32_t cpu, std::uint32_t seq) {
  ++seen_;
  if (cpu >= slots_.size()) {
    // Grows once per CPU seen, never in steady state.
    if (cpu > 65535) return 0;
    slots_.resize(cpu + 1);
  }
  Slot& s = slots_[cpu];
  std::uint64_t missing = 0;
  if (s.valid) {
    // Modular distance: sequence numbers wrap at 2^32.
    const std::uint32_t ahead = seq - s.next;
    if (ahead >= 0x80000000U) {
      ++reordered_;
      return 0;
    }
    missing = ahead;
  }
  s.valid = true;
  s.next = seq + 1;
  gaps_ += missing;
  return missing;
}

}  // namespace netring::datapath
