#include "pkg/datapath/sample_stream.hpp"

#include <algorithm>

namespace netring::datapath {

Result<std::size_t> SampleStream::poll(std::span<Sample> out) {
  const std::size_t want = std::min(out.size(), views_.size());
  auto got = source_->poll_batch(std::span(views_.data(), want));
  if (!got) return got;
  std::size_t n = 0;
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
  for (std::size_t i = 0; i < *got; ++i) {
    const auto& v = views_[i];
    if (decode_sample(std::span<const std::byte>(v.data, v.len), out[n]) != DecodeStatus::kOk) {
      ++invalid_;
      continue;
    }
    seq_.observe(out[n].info.cpu, out[n].info.seq);
    ++n;
  }
  samples_ += n;
  return n;
}

SampleStreamStats SampleStream::stats() {
  SampleStreamStats s;
  s.samples = samples_;
  s.invalid = invalid_;
  s.gaps = seq_.gaps();
  s.reordered = seq_.reordered();
  s.capture = source_->stats();
  return s;
}

}  // namespace netring::datapath
