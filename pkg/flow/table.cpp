#include "pkg/flow/table.hpp"

#include <time.h>

#include <cstdlib>
#include <cstring>
#include <random>

namespace netring::flow {

const char* to_string(EndReason r) {
  switch (r) {
    case EndReason::kIdle: return "idle";
    case EndReason::kActive: return "active";
    case EndReason::kEvicted: return "evicted";
  }
  return "unknown";
}

void FlowTable::FreeAligned::operator()(void* p) const {
  std::free(p);
}

Result<FlowTable> FlowTable::create(FlowTableConfig cfg, ExportFn on_export) {
  constexpr std::size_t kPerSlot = sizeof(FlowEntry) + sizeof(std::uint32_t);
  constexpr std::size_t kMinSlots = 16;
  if (cfg.max_bytes < kMinSlots * kPerSlot)
    return Error::invalid("flow table", "max_bytes " + std::to_string(cfg.max_bytes) + " is below the minimum of " +
                                            std::to_string(kMinSlots * kPerSlot));
  if (cfg.eviction_window == 0) return Error::invalid("flow table", "eviction_window must be at least 1");
  std::size_t slots = kMinSlots;
  while (slots * 2 * kPerSlot <= cfg.max_bytes) slots *= 2;
  // Fewer flows wanted than the budget allows: fewer slots, same load cap.
  if (cfg.max_flows != 0)
    while (slots > kMinSlots && (slots / 2) * 3 / 4 >= cfg.max_flows) slots /= 2;

  FlowTable t;
  t.slots_ = slots;
  t.mask_ = slots - 1;
  t.max_flows_ = slots * 3 / 4;
  if (cfg.max_flows != 0 && cfg.max_flows < t.max_flows_) t.max_flows_ = cfg.max_flows;
  t.seed_ = cfg.seed != 0 ? cfg.seed : (std::uint64_t{std::random_device{}()} << 32 | std::random_device{}()) | 1;
  void* tags = std::aligned_alloc(64, slots * sizeof(std::uint32_t));
  void* entries = std::aligned_alloc(64, slots * sizeof(FlowEntry));
  t.tags_mem_.reset(static_cast<std::uint32_t*>(tags));
  t.entries_mem_.reset(static_cast<FlowEntry*>(entries));
  if (!tags || !entries)
    return Error("aligned_alloc", ENOMEM, "flow table of " + std::to_string(slots * kPerSlot) + " bytes");
  t.tags_ = t.tags_mem_.get();
  t.entries_ = t.entries_mem_.get();
  // Touch every page now: the first samples must not pay page faults, and
  // the cap is then resident memory, not a promise.
  std::memset(t.tags_, 0, slots * sizeof(std::uint32_t));
  std::memset(static_cast<void*>(t.entries_), 0, slots * sizeof(FlowEntry));
  t.cfg_ = std::move(cfg);
  t.on_export_ = std::move(on_export);
  return t;
}

std::uint64_t FlowTable::now() const {
  if (cfg_.clock) return cfg_.clock();
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

void FlowTable::update(const ParsedPacket& pkt, const SampleInfo& info) {
  update_hashed(pkt, info, hash_key(pkt.key, seed_), info.timestamp_ns != 0 ? info.timestamp_ns : now());
}

void FlowTable::update_batch(std::span<const ParsedPacket> pkts, std::span<const SampleInfo> infos) {
  const std::size_t n = std::min(pkts.size(), infos.size());
  std::uint64_t clock_now = 0;
  // Deep enough to keep ~a dozen misses in flight, short enough that the
  // prefetched lines are still in L1 when used.
  constexpr std::size_t kGroup = 16;
  std::uint64_t hashes[kGroup];
  for (std::size_t base = 0; base < n; base += kGroup) {
    const std::size_t m = std::min(kGroup, n - base);
    for (std::size_t j = 0; j < m; ++j) {
      const std::uint64_t h = hash_key(pkts[base + j].key, seed_);
      hashes[j] = h;
      const std::size_t i = h & mask_;
      __builtin_prefetch(&tags_[i], 1, 3);
      const char* e = reinterpret_cast<const char*>(&entries_[i]);
      __builtin_prefetch(e, 1, 3);
      __builtin_prefetch(e + 64, 1, 3);
    }
    for (std::size_t j = 0; j < m; ++j) {
      const SampleInfo& info = infos[base + j];
      std::uint64_t ts = info.timestamp_ns;
      if (ts == 0) {
        if (clock_now == 0) clock_now = now();
        ts = clock_now;
      }
      update_hashed(pkts[base + j], info, hashes[j], ts);
    }
  }
}

void FlowTable::update_hashed(const ParsedPacket& pkt, const SampleInfo& info, std::uint64_t hash, std::uint64_t ts) {
  ++stats_.samples;
  const std::uint32_t ip_len =
      pkt.ip_len != 0 ? pkt.ip_len : (info.wire_len > pkt.l3_offset ? info.wire_len - pkt.l3_offset : 0);
  const std::uint32_t tag = tag_of(hash);
  const std::size_t home = hash & mask_;
  std::size_t i = home;
  for (;;) {
    const std::uint32_t t = tags_[i];
    if (t == tag && entries_[i].key == pkt.key) {
      entries_[i].record.add(info, ip_len, pkt.tcp_flags, ts);
      return;
    }
    if (t == 0) break;
    i = (i + 1) & mask_;
  }
  if (size_ >= max_flows_) {
    evict_near(home);
    // Backward shift may have moved the cluster: find the first free slot again.
    i = home;
    while (tags_[i] != 0) i = (i + 1) & mask_;
  }
  tags_[i] = tag;
  FlowEntry& e = entries_[i];
  e.key = pkt.key;
  e.record = FlowRecord{};
  e.record.add(info, ip_len, pkt.tcp_flags, ts);
  ++size_;
  ++stats_.inserts;
}

std::size_t FlowTable::find_slot(const FlowKey& key, std::uint64_t hash) const {
  const std::uint32_t tag = tag_of(hash);
  for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
    const std::uint32_t t = tags_[i];
    if (t == tag && entries_[i].key == key) return i;
    if (t == 0) return slots_;
  }
}

const FlowRecord* FlowTable::find(const FlowKey& key) const {
  const std::size_t i = find_slot(key, hash_key(key, seed_));
  return i == slots_ ? nullptr : &entries_[i].record;
}

void FlowTable::evict_near(std::size_t home) {
  std::size_t victim = slots_;
  std::uint64_t oldest = UINT64_MAX;
  unsigned seen = 0;
  // At least one slot is occupied (size_ >= max_flows_ >= 1), so this ends.
  for (std::size_t i = home, n = 0; seen < cfg_.eviction_window && n < slots_; i = (i + 1) & mask_, ++n) {
    if (tags_[i] == 0) continue;
    ++seen;
    if (entries_[i].record.last_ns < oldest) {
      oldest = entries_[i].record.last_ns;
      victim = i;
    }
  }
  if (on_export_) on_export_(entries_[victim], EndReason::kEvicted);
  ++stats_.evictions;
  remove_at(victim);
}

// Backward-shift deletion: pull later members of the cluster into the hole
// when that does not move them before their home slot.
void FlowTable::remove_at(std::size_t hole) {
  std::size_t j = hole;
  for (;;) {
    j = (j + 1) & mask_;
    if (tags_[j] == 0) break;
    const std::size_t home = home_of(entries_[j]);
    // Is `home` cyclically outside (hole, j]? Then entries_[j] may move to the hole.
    const bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
    if (movable) {
      tags_[hole] = tags_[j];
      entries_[hole] = entries_[j];
      hole = j;
    }
  }
  tags_[hole] = 0;
  --size_;
}

std::size_t FlowTable::expire(std::size_t max_slots) {
  const std::uint64_t t = now();
  std::size_t removed = 0;
  const std::size_t budget = std::min(max_slots, slots_);
  for (std::size_t n = 0; n < budget; ++n) {
    const std::size_t i = cursor_;
    // A removal may shift the next entry into slot i: look at i again
    // before moving on (bounded: each pass removes one flow).
    while (tags_[i] != 0) {
      const FlowRecord& r = entries_[i].record;
      EndReason why;
      if (t >= r.last_ns && t - r.last_ns >= cfg_.idle_timeout_ns) {
        why = EndReason::kIdle;
        ++stats_.expired_idle;
      } else if (t >= r.first_ns && t - r.first_ns >= cfg_.active_timeout_ns) {
        why = EndReason::kActive;
        ++stats_.expired_active;
      } else {
        break;
      }
      if (on_export_) on_export_(entries_[i], why);
      remove_at(i);
      ++removed;
    }
    cursor_ = (cursor_ + 1) & mask_;
  }
  return removed;
}

}  // namespace netring::flow
