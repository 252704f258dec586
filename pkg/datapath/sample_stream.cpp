#include "pkg/datapath/sample_stream.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>

namespace netring::datapath {

std::size_t SampleStream::decode(std::span<const capture::PacketView> views, Sample* out, SequenceTracker& seq) {
  std::size_t n = 0;
  for (const auto& v : views) {
    if (decode_sample(std::span<const std::byte>(v.data, v.len), out[n]) != DecodeStatus::kOk) {
      ++invalid_;
      continue;
    }
    seq.observe(out[n].info.cpu, out[n].info.seq);
    ++n;
  }
  return n;
}

Result<std::size_t> SampleStream::poll(std::span<Sample> out) {
  const std::size_t want = std::min(out.size(), views_.size());
  if (gso_) {
    // Two sources: a batch starts with each in turn, so that neither
    // starves the other, and is topped up from the second.
    const bool gso_first = gso_first_;
    gso_first_ = !gso_first_;
    capture::Source& a = gso_first ? *gso_ : *source_;
    capture::Source& b = gso_first ? *source_ : *gso_;
    auto got_a = a.poll_batch(std::span(views_.data(), want));
    if (!got_a) return got_a;
    std::size_t nb = 0;
    if (*got_a < want) {
      auto got_b = b.poll_batch(std::span(views_.data() + *got_a, want - *got_a));
      // An error with a batch of the first in hand waits for the next
      // poll, which starts with this source.
      if (!got_b && *got_a == 0) return got_b;
      if (got_b) nb = *got_b;
    }
    const auto first = std::span<const capture::PacketView>(views_.data(), *got_a);
    const auto second = std::span<const capture::PacketView>(views_.data() + *got_a, nb);
    std::size_t n = decode(first, out.data(), gso_first ? gso_seq_ : seq_);
    n += decode(second, out.data() + n, gso_first ? seq_ : gso_seq_);
    samples_ += n;
    return n;
  }
  auto got = source_->poll_batch(std::span(views_.data(), want));
  if (!got) return got;
  if (mode_ == Mode::kDirect) {
    // Capture ports and the no-BPF rung: one pass, no header to decode.
    const std::uint32_t rate = direct_rate_;
    for (std::size_t i = 0; i < *got; ++i) {
      const auto& v = views_[i];
      Sample& o = out[i];
      o.info = SampleInfo{};
      o.info.ifindex = v.ifindex;
      o.info.direction =
          v.direction == capture::Direction::kEgress ? SampleDirection::kEgress : SampleDirection::kIngress;
      o.info.rate = rate;
      o.info.orig_len = v.orig_len;
      o.info.truncated = v.len < v.orig_len;
      o.frame = std::span<const std::byte>(v.data, v.len);
    }
    samples_ += *got;
    return *got;
  }
  const std::size_t n = decode(std::span(views_.data(), *got), out.data(), seq_);
  samples_ += n;
  return n;
}

Result<void> SampleStream::wait(int timeout_ms) {
  if (!gso_) return source_->wait(timeout_ms);
  pollfd p[2] = {{source_->fd(), POLLIN, 0}, {gso_->fd(), POLLIN, 0}};
  if (::poll(p, 2, timeout_ms) < 0 && errno != EINTR) return Error::from_errno("poll", "sample stream sources");
  // The AF_XDP socket's own wait names a gone device.
  if ((p[0].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) return source_->wait(0);
  return ok();
}

SampleStreamStats SampleStream::stats() {
  SampleStreamStats s;
  s.samples = samples_;
  s.invalid = invalid_;
  s.gaps = seq_.gaps() + gso_seq_.gaps();
  s.reordered = seq_.reordered() + gso_seq_.reordered();
  s.capture = source_->stats();
  if (gso_) {
    const capture::Stats g = gso_->stats();
    s.capture.packets += g.packets;
    s.capture.bytes += g.bytes;
    s.capture.kernel_drops += g.kernel_drops;
    s.capture.ring_full += g.ring_full;
    s.capture.fill_empty += g.fill_empty;
    s.capture.invalid += g.invalid;
  }
  return s;
}

}  // namespace netring::datapath
