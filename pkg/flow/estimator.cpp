#include "pkg/flow/estimator.hpp"

#include <algorithm>

namespace netring::flow {

Interval Estimate::interval(double z) const {
  const double half = z * std_error();
  return {std::max(0.0, value - half), value + half};
}

Estimate estimate_packets(const FlowRecord& r) {
  return {r.packets, r.var_packets};
}
Estimate estimate_bytes_l3(const FlowRecord& r) {
  return {r.bytes_l3, r.var_bytes_l3};
}

double unseen_variance(std::uint32_t rate, std::uint32_t max_seg_len) {
  if (rate <= 1) return 0.0;
  const double hidden = static_cast<double>(rate) * max_seg_len;
  return kUnseenVarianceFactor * hidden * hidden;
}

Estimate estimate_bytes_l3(const FlowRecord& r, std::uint32_t rate) {
  return {r.bytes_l3, r.var_bytes_l3 + unseen_variance(rate, r.max_seg_len())};
}

namespace {
std::size_t home(std::uint32_t ifindex, Direction d) {
  const std::uint64_t h = (std::uint64_t{ifindex} << 2 | static_cast<std::uint64_t>(d)) * 0x9e3779b97f4a7c15ull;
  return static_cast<std::size_t>(h >> 54) % InterfaceEstimator::kCapacity;
}
}  // namespace

InterfaceEstimator::Slot* InterfaceEstimator::slot(std::uint32_t ifindex, Direction d, bool create) {
  for (std::size_t n = 0, i = home(ifindex, d); n < kCapacity; ++n, i = (i + 1) % kCapacity) {
    Slot& s = slots_[i];
    if (s.used && s.ifindex == ifindex && s.direction == d) return &s;
    if (!s.used) {
      if (!create) return nullptr;
      s.used = true;
      s.ifindex = ifindex;
      s.direction = d;
      return &s;
    }
  }
  return nullptr;
}

const InterfaceEstimator::Slot* InterfaceEstimator::slot(std::uint32_t ifindex, Direction d) const {
  return const_cast<InterfaceEstimator*>(this)->slot(ifindex, d, false);
}

void InterfaceEstimator::add(const SampleInfo& s) {
  Slot* sl = slot(s.ifindex, s.direction, true);
  if (!sl) {
    ++overflow_;
    return;
  }
  sl->packets.add(s.weight, 1.0);
  sl->bytes.add(s.weight, s.wire_len);
}

void InterfaceEstimator::merge(const InterfaceEstimator& o) {
  for (const Slot& os : o.slots_) {
    if (!os.used) continue;
    Slot* sl = slot(os.ifindex, os.direction, true);
    if (!sl) {
      ++overflow_;
      continue;
    }
    sl->packets.merge(os.packets);
    sl->bytes.merge(os.bytes);
  }
  overflow_ += o.overflow_;
}

std::vector<Coverage> InterfaceEstimator::reconcile(std::span<const ExactCounters> exact) const {
  std::vector<Coverage> out;
  out.reserve(exact.size());
  for (const ExactCounters& e : exact) {
    Coverage c;
    c.ifindex = e.ifindex;
    c.direction = e.direction;
    c.exact_packets = e.packets;
    c.exact_bytes = e.bytes;
    if (const Slot* s = slot(e.ifindex, e.direction)) {
      c.packets = s->packets.estimate();
      c.bytes = s->bytes.estimate();
    }
    if (e.bytes > 0) {
      // The exact count has no error: the ratio's interval is the estimate's, scaled.
      const double x = static_cast<double>(e.bytes);
      c.byte_ratio = c.bytes.value / x;
      const Interval iv = c.bytes.interval();
      c.byte_ratio_interval = {iv.lo / x, iv.hi / x};
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace netring::flow
