#include "agent/metrics/flow_delta_tracker.hpp"

namespace netring::agent::metrics {

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
    auto it = seen_.find(Key{f.id, f.first_seen_ns});
    if (it == seen_.end()) {
      Reported fresh;  // born and evicted between two publications
      report(f, fresh);
    } else {
      report(f, it->second);
      seen_.erase(it);
    }
  }
  ++epoch_;
  for (const FlowView& f : live) {
    Reported& r = seen_[Key{f.id, f.first_seen_ns}];
    report(f, r);
    r.epoch = epoch_;
  }
  std::erase_if(seen_, [&](const auto& kv) { return kv.second.epoch != epoch_; });
}

}  // namespace netring::agent::metrics
