#include "agent/api/rate_history.hpp"

#include <algorithm>

namespace netring::agent::api {
namespace {

std::uint64_t ns_of(std::chrono::milliseconds d) {
  return static_cast<std::uint64_t>(d.count()) * 1'000'000ull;
}

}  // namespace

void RateHistory::add(std::uint64_t taken_ns, std::span<const FlowGrowth> growth) {
  std::lock_guard lock(mu_);
  if (started_ && taken_ns <= latest_ns_) reset_locked();
  if (!started_) {
    started_ = true;
    latest_ns_ = taken_ns;
    return;
  }
  identity_cache_.clear();
  std::unordered_map<std::uint64_t, Growth> by_pair;
  for (const FlowGrowth& g : growth) {
    std::uint32_t s = intern(g.flow->src_id, taken_ns), d = intern(g.flow->dst_id, taken_ns);
    Growth& acc = by_pair[std::uint64_t{s} << 32 | d];
    acc.src = s;
    acc.dst = d;
    acc.bytes += g.bytes;
    acc.packets += g.packets;
  }
  identity_cache_.clear();  // the snapshot's identities may go with it
  Bucket b{latest_ns_, taken_ns, {}};
  b.growth.reserve(by_pair.size());
  for (const auto& [k, g] : by_pair) b.growth.push_back(g);
  buckets_.push_back(std::move(b));
  latest_ns_ = taken_ns;
  const std::uint64_t keep = ns_of(max_window_);
  while (!buckets_.empty() && buckets_.front().end_ns + keep <= latest_ns_) buckets_.pop_front();
  coarsen();
  if (++adds_ % 64 == 0) forget_unused_endpoints();
}

// Merges neighbouring buckets once they are old enough: the last 10 s stay
// per publication (a 10 s window is as fine as the publications), older
// growth in 5 s and then 30 s buckets.
void RateHistory::coarsen() {
  constexpr std::uint64_t kSec = 1'000'000'000ull;
  for (std::size_t i = 0; i + 1 < buckets_.size();) {
    Bucket& a = buckets_[i];
    Bucket& b = buckets_[i + 1];
    const std::uint64_t age = latest_ns_ - b.end_ns;
    const std::uint64_t width = age < 10 * kSec ? 0 : age < 60 * kSec ? 5 * kSec : 30 * kSec;
    if (width == 0 || b.end_ns - a.start_ns > width) {
      ++i;
      continue;
    }
    std::unordered_map<std::uint64_t, std::size_t> at;
    at.reserve(a.growth.size());
    for (std::size_t k = 0; k < a.growth.size(); ++k)
      at.emplace(std::uint64_t{a.growth[k].src} << 32 | a.growth[k].dst, k);
    for (const Growth& g : b.growth) {
      auto [it, added] = at.emplace(std::uint64_t{g.src} << 32 | g.dst, a.growth.size());
      if (added) {
        a.growth.push_back(g);
      } else {
        a.growth[it->second].bytes += g.bytes;
        a.growth[it->second].packets += g.packets;
      }
    }
    a.end_ns = b.end_ns;
    buckets_.erase(buckets_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
  }
}

std::size_t RateHistory::buckets() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

std::size_t RateHistory::memory_bytes() const {
  std::lock_guard lock(mu_);
  std::size_t n = endpoints_.capacity() * sizeof(Endpoint);
  for (const Bucket& b : buckets_) n += sizeof(Bucket) + b.growth.capacity() * sizeof(Growth);
  for (const Endpoint& e : endpoints_)
    n += e.key.capacity() + e.labels.ns.capacity() + e.labels.workload.capacity() + e.labels.pod.capacity() +
         e.labels.node.capacity();
  return n;
}

std::uint32_t RateHistory::intern(const Identity& id, std::uint64_t now_ns) {
  if (auto it = identity_cache_.find(&id); it != identity_cache_.end()) {
    endpoints_[it->second].last_used_ns = now_ns;
    return it->second;
  }
  metrics::EndpointLabels labels = metrics::endpoint_labels(id);
  std::string key;
  key.reserve(labels.ns.size() + labels.workload.size() + labels.pod.size() + 2);
  key.append(labels.ns).push_back('\x1f');
  key.append(labels.workload).push_back('\x1f');
  key.append(labels.pod);
  std::uint32_t idx;
  if (auto it = endpoint_index_.find(key); it != endpoint_index_.end()) {
    idx = it->second;
  } else {
    if (!free_endpoints_.empty()) {
      idx = free_endpoints_.back();
      free_endpoints_.pop_back();
    } else {
      idx = static_cast<std::uint32_t>(endpoints_.size());
      endpoints_.emplace_back();
    }
    Endpoint& e = endpoints_[idx];
    e.labels = std::move(labels);
    e.key = key;
    e.used = true;
    endpoint_index_.emplace(std::move(key), idx);
  }
  endpoints_[idx].last_used_ns = now_ns;
  identity_cache_.emplace(&id, idx);
  return idx;
}

// Buckets are contiguous (each starts where the previous ended), so an
// endpoint last used at or before the oldest bucket's start is in none.
void RateHistory::forget_unused_endpoints() {
  const std::uint64_t oldest = buckets_.empty() ? latest_ns_ : buckets_.front().start_ns;
  for (std::uint32_t i = 0; i < endpoints_.size(); ++i) {
    Endpoint& e = endpoints_[i];
    if (!e.used || e.last_used_ns > oldest) continue;
    endpoint_index_.erase(e.key);
    e = Endpoint{};
    free_endpoints_.push_back(i);
  }
}

void RateHistory::reset_locked() {
  started_ = false;
  buckets_.clear();
  endpoints_.clear();
  free_endpoints_.clear();
  endpoint_index_.clear();
}

std::size_t RateHistory::endpoints() const {
  std::lock_guard lock(mu_);
  return endpoint_index_.size();
}

WindowedTop RateHistory::top(TopKey key, TopBy by, std::size_t limit, std::chrono::milliseconds window) const {
  WindowedTop out;
  std::lock_guard lock(mu_);
  const std::uint64_t w = ns_of(window);
  const std::uint64_t start = latest_ns_ > w ? latest_ns_ - w : 0;
  auto first = std::find_if(buckets_.begin(), buckets_.end(), [&](const Bucket& b) { return b.end_ns > start; });
  if (first == buckets_.end()) return out;
  out.covered_seconds = static_cast<double>(latest_ns_ - first->start_ns) / 1e9;

  std::unordered_map<std::uint64_t, Growth> by_pair;
  for (auto it = first; it != buckets_.end(); ++it) {
    for (const Growth& g : it->growth) {
      Growth& acc = by_pair[std::uint64_t{g.src} << 32 | g.dst];
      acc.src = g.src;
      acc.dst = g.dst;
      acc.bytes += g.bytes;
      acc.packets += g.packets;
    }
  }
  std::unordered_map<std::string, TopEntry> groups;
  for (const auto& [k, g] : by_pair) {
    std::string s, d;
    std::string name = top_key_of(key, endpoints_[g.src].labels, endpoints_[g.dst].labels, &s, &d);
    TopEntry& e = groups[name];
    if (e.key.empty()) {
      e.key = std::move(name);
      e.src = std::move(s);
      e.dst = std::move(d);
    }
    e.bytes += g.bytes;
    e.packets += g.packets;
  }
  out.entries.reserve(groups.size());
  for (auto& [k, e] : groups) out.entries.push_back(std::move(e));
  rank_top_entries(out.entries, by, limit, &out.groups);
  return out;
}

}  // namespace netring::agent::api
