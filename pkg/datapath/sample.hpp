// Decoding of the frames the mirror delivers: netring's sample header
// (bpf/sample_meta.h) followed by the original frame, and the per-CPU
// sequence tracking that turns gaps into a lost-sample count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "bpf/sample_meta.h"

namespace netring::datapath {

enum class SampleDirection : std::uint8_t { kIngress = NETRING_DIR_INGRESS, kEgress = NETRING_DIR_EGRESS };

struct SampleInfo {
  std::uint32_t ifindex = 0;
  SampleDirection direction = SampleDirection::kIngress;
  std::uint32_t rate = 0;      // N
  std::uint32_t orig_len = 0;  // skb->len of the original
  std::uint16_t gso_segs = 1;  // wire packets the original stood for
  std::uint16_t snap_len = 0;
  std::uint32_t cpu = 0;
  std::uint32_t queue = 0;  // mirror queue = capture worker of the flow
  std::uint32_t seq = 0;    // per (cpu, queue)
  std::uint64_t tstamp_ns = 0;  // CLOCK_MONOTONIC
  bool truncated = false;
  // The kernel counted this packet exactly in its flow map: the sample
  // stands for no estimate (weight() is 0), it only shows the packet.
  bool counted = false;
  // A VLAN tag the original carried as skb metadata (hardware-accelerated),
  // which the frame bytes do not show.
  bool has_vlan = false;
  std::uint16_t vlan_tci = 0;
  std::uint16_t vlan_proto = 0;

  // 1/p with p = min(1, gso_segs / rate): how many skbs this sample stands
  // for (Horvitz-Thompson). 0 when the rate was 0 (interface unhooked
  // meanwhile) and when the packet is in the exact counts.
  double weight() const {
    if (rate == 0 || counted) return 0.0;
    return gso_segs >= rate ? 1.0 : static_cast<double>(rate) / static_cast<double>(gso_segs);
  }
  // How many wire packets it stands for: gso_segs / p = max(rate, gso_segs).
  double wire_packets() const { return weight() * gso_segs; }
};

struct Sample {
  SampleInfo info;
  std::span<const std::byte> frame;  // the original frame (possibly truncated), from its L2 header
};

enum class DecodeStatus : std::uint8_t {
  kOk,
  kTooShort,    // shorter than the header
  kNotSample,   // EtherType or magic differ: not a netring sample
  kBadVersion,  // a header version this build does not know
  kBadLength,   // hdr_len or the lengths in the header disagree with the frame
};
const char* to_string(DecodeStatus s);

// No allocation: `out.frame` points into `frame`.
DecodeStatus decode_sample(std::span<const std::byte> frame, Sample& out);

// Sequence numbers per (CPU, queue): every skipped number is a sample lost
// between the sampler's clone attempt and user space (clone failure, mirror
// error, XDP miss, ring full, ...). One tracker per stream (= queue), in
// which each CPU's samples stay in order.
class SequenceTracker {
 public:
  // Returns how many samples were missing before this one.
  std::uint64_t observe(std::uint32_t cpu, std::uint32_t seq);
  std::uint64_t gaps() const { return gaps_; }
  std::uint64_t reordered() const { return reordered_; }  // late or duplicate
  std::uint64_t seen() const { return seen_; }

 private:
  struct Slot {
    std::uint32_t next = 0;
    bool valid = false;
  };
  std::vector<Slot> slots_;
  std::uint64_t gaps_ = 0, reordered_ = 0, seen_ = 0;
};

}  // namespace netring::datapath
