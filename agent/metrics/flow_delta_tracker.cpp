#include "agent/metrics/flow_delta_tracker.hpp"

#include <algorithm>

#include "agent/heap.hpp"

namespace netring::agent::metrics {

FlowDeltaTracker::Reported* FlowDeltaTracker::find(const FlowView& f) {
  const Reported probe{.id = f.id, .first_seen = f.start_mono_ns};
  auto it = std::lower_bound(seen_.begin(), seen_.end(), probe, before);
  if (it == seen_.end() || it->id != f.id || it->first_seen != f.start_mono_ns || it->gone) return nullptr;
  return &*it;
}

void FlowDeltaTracker::report(const FlowView& f, Reported& r, std::vector<FlowGrowth>* growth) {
  // Totals never shrink in a live flow; if they did (a table bug), the
  // counter must still not go down, so the smaller value becomes the base.
  double dp = f.packets > r.packets ? f.packets - r.packets : 0;
  double db = f.bytes > r.bytes ? f.bytes - r.bytes : 0;
  std::uint8_t new_flags = static_cast<std::uint8_t>(f.tcp_flags & ~r.tcp_flags);
  if (dp > 0 || db > 0 || new_flags != 0) sink_.add(f, dp, db, new_flags);
  if (growth && (dp > 0 || db > 0)) growth->push_back({&f, dp, db});
  r.packets = f.packets;
  r.bytes = f.bytes;
  r.tcp_flags |= f.tcp_flags;
}

void FlowDeltaTracker::update(std::span<const FlowView> live, std::span<const FlowView> evicted,
                              std::vector<FlowGrowth>* growth) {
  for (const FlowView& f : evicted) {
    if (Reported* r = find(f)) {
      report(f, *r, growth);
      r->gone = true;
    } else {
      Reported fresh;  // born and evicted between two publications
      report(f, fresh, growth);
    }
  }
  // The live flows in the array's order, then one merge with it, instead of
  // a binary search per flow (each a chain of cache misses at 10k flows)
  // and a sort of the result.
  reserve_reused(order_, live.size());
  for (std::size_t i = 0; i < live.size(); ++i) order_.push_back({live[i].id, live[i].start_mono_ns, i});
  std::sort(order_.begin(), order_.end(),
            [](const Order& a, const Order& b) { return a.id != b.id ? a.id < b.id : a.first_seen < b.first_seen; });
  reserve_reused(next_, live.size());
  std::size_t j = 0;
  // In this order the views are read at random (200 bytes each, megabytes
  // at 10k flows): fetch a few ahead.
  constexpr std::size_t kAhead = 8;
  for (std::size_t k = 0; k < order_.size(); ++k) {
    if (k + kAhead < order_.size()) {
      const char* ahead = reinterpret_cast<const char*>(&live[order_[k + kAhead].index]);
      __builtin_prefetch(ahead, 0, 3);
      __builtin_prefetch(ahead + 64, 0, 3);
    }
    const Order& o = order_[k];
    const Reported probe{.id = o.id, .first_seen = o.first_seen};
    while (j < seen_.size() && before(seen_[j], probe)) ++j;
    const bool known = j < seen_.size() && seen_[j].id == o.id && seen_[j].first_seen == o.first_seen && !seen_[j].gone;
    Reported r = known ? seen_[j] : probe;
    report(live[o.index], r, growth);
    // Ids are per flow key, so a flow is listed once; keep the array a set anyway.
    if (!next_.empty() && next_.back().id == r.id && next_.back().first_seen == r.first_seen) continue;
    next_.push_back(r);
  }
  // Flows in neither list are forgotten; the old array may serve the next update.
  seen_.swap(next_);
  release_if_large(next_);
  release_if_large(order_);
}

}  // namespace netring::agent::metrics
