// Samples out of a capture source: each frame the mirror delivered is
// decoded (header + original frame), sequence gaps are counted per CPU, and
// frames that are not samples are counted and skipped. One stream per
// capture source (per mirror queue): the mirror program sends each CPU's
// samples to one queue, so a CPU's sequence numbers arrive in order.
//
// On the AF_XDP rung a stream reads two sources: the queue's AF_XDP socket
// (single frames) and, added with add_gso_source(), the TPACKET_V3 fanout
// member of the same queue that takes the GSO clones (see mirror.bpf.c);
// each has its own sequence numbers, and a batch may hold samples of both.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "pkg/capture/source.hpp"
#include "pkg/datapath/sample.hpp"

namespace netring::datapath {

struct SampleStreamStats {
  std::uint64_t samples = 0;    // decoded and handed out
  std::uint64_t invalid = 0;    // frames that were not valid samples
  std::uint64_t gaps = 0;       // samples lost before user space (sequence gaps)
  std::uint64_t reordered = 0;  // late or duplicate sequence numbers
  capture::Stats capture;       // the source's own counters (ring drops, ...)
};

class SampleStream {
 public:
  static constexpr std::size_t kBatch = 64;

  // kMirror: frames carry netring's sample header (the BPF rungs).
  // kDirect: frames are packets captured directly on hooked interfaces with
  // a 1-in-`direct_rate` socket filter (the no-BPF rung): the SampleInfo
  // comes from the capture (ifindex, direction, lengths); gso_segs is 1, cpu,
  // seq and tstamp_ns are 0, and there is no gap tracking.
  enum class Mode : std::uint8_t { kMirror, kDirect };

  // `keepalive`: whatever feeds the source and must outlive it (the mirror's
  // XDP redirect program, the direct capture's sockets).
  explicit SampleStream(std::unique_ptr<capture::Source> source, std::shared_ptr<void> keepalive = {},
                        Mode mode = Mode::kMirror, std::uint32_t direct_rate = 1)
      : keepalive_(std::move(keepalive)), source_(std::move(source)), mode_(mode), direct_rate_(direct_rate) {}
  SampleStream(const SampleStream&) = delete;
  SampleStream& operator=(const SampleStream&) = delete;

  // The second source of a kMirror stream: the GSO clones of the same
  // queue, numbered apart by the sampler (NETRING_SET_F_GSO_APART).
  void add_gso_source(std::unique_ptr<capture::Source> gso) { gso_ = std::move(gso); }
  bool has_gso_source() const { return gso_ != nullptr; }

  // Fills `out` with up to min(out.size(), kBatch) samples without blocking.
  // Sample::frame points into the source's memory until release().
  Result<std::size_t> poll(std::span<Sample> out);
  void release() {
    source_->release();
    if (gso_) gso_->release();
  }
  // Either source readable (poll(2) on both), or the timeout.
  Result<void> wait(int timeout_ms);
  int fd() const { return source_->fd(); }

  SampleStreamStats stats();
  capture::Source& source() { return *source_; }
  Mode mode() const { return mode_; }

 private:
  std::shared_ptr<void> keepalive_;  // declared first: released after source_
  std::unique_ptr<capture::Source> source_;
  std::unique_ptr<capture::Source> gso_;
  Mode mode_;
  std::uint32_t direct_rate_;
  std::array<capture::PacketView, kBatch> views_{};
  SequenceTracker seq_, gso_seq_;
  bool gso_first_ = false;  // which source a batch starts with, alternating
  std::uint64_t samples_ = 0, invalid_ = 0;

  std::size_t decode(std::span<const capture::PacketView> views, Sample* out, SequenceTracker& seq);
};

}  // namespace netring::datapath
