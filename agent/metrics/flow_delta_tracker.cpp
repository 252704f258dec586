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

void FlowDeltaTracker::report(const FlowView& f, Reported& r) {
  // Totals never shrink in a live flow; if they did (a table bug), the
  // counter must still not go down, so the smaller value becomes the base.
  double dp = f.packets > r.packets ? f.packets - r.packets : 0;
  double db = f.bytes > r.bytes ? f.bytes - r.bytes : 0;
  std::uint8_t new_flags = static_cast<std::uint8_t>(f.tcp_flags & ~r.tcp_flags);
  if (dp > 0 || db > 0 || new_flags != 0) sink_.add(f, dp, db, new_flags);
  r.packets = f.packets;
  r.bytes = f.bytes;
  r.tcp_flags |= f.tcp_flags;
}

void FlowDeltaTracker::update(std::span<const FlowView> live, std::span<const FlowView> evicted) {
  for (const FlowView& f : evicted) {
    if (Reported* r = find(f)) {
      report(f, *r);
      r->gone = true;
    } else {
      Reported fresh;  // born and evicted between two publications
      report(f, fresh);
    }
  }
  std::vector<Reported> next;
  next.reserve(live.size());
  prefault_spare(next);
  for (const FlowView& f : live) {
    const Reported* old = find(f);
    Reported r = old ? *old : Reported{.id = f.id, .first_seen = f.start_mono_ns};
    report(f, r);
    next.push_back(r);
  }
  std::sort(next.begin(), next.end(), before);
  // Ids are per flow key, so a flow is listed once; keep the array a set anyway.
  next.erase(
      std::unique(next.begin(), next.end(),
                  [](const Reported& a, const Reported& b) { return a.id == b.id && a.first_seen == b.first_seen; }),
      next.end());
  seen_ = std::move(next);  // flows in neither list are forgotten
}

}  // namespace netring::agent::metrics
