#include "pkg/flow/table.hpp"

#include <sys/mman.h>
#include <time.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
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

Result<FlowTable> FlowTable::create(FlowTableConfig cfg, ExportFn on_export) {
  constexpr std::size_t kPerSlot = sizeof(FlowEntry) + sizeof(std::uint32_t);
  constexpr std::size_t kMinSlots = 16;
  constexpr std::size_t kFixed = kTagMirror * sizeof(std::uint32_t);
  if (cfg.max_bytes < kMinSlots * kPerSlot + kFixed)
    return Error::invalid("flow table", "max_bytes " + std::to_string(cfg.max_bytes) + " is below the minimum of " +
                                            std::to_string(kMinSlots * kPerSlot + kFixed));
  if (cfg.eviction_window == 0) return Error::invalid("flow table", "eviction_window must be at least 1");
  // Any slot count works (home slots come from a multiply, not a mask), so
  // the budget is used to the slot and a table made for N flows is sized
  // for N at 3/4 load instead of rounding up to a power of two.
  // Slot counts are multiples of 16: whole cache lines of tags.
  std::size_t slots = std::min<std::size_t>((cfg.max_bytes - kFixed) / kPerSlot, std::size_t{1} << 31) / 16 * 16;
  if (cfg.max_flows != 0) {
    const std::size_t wanted = ((cfg.max_flows * 4 + 2) / 3 + 15) / 16 * 16;
    slots = std::min(slots, std::max(kMinSlots, wanted));
  }

  FlowTable t;
  t.slots_ = slots;
  t.max_flows_ = slots * 3 / 4;
  if (cfg.max_flows != 0 && cfg.max_flows < t.max_flows_) t.max_flows_ = cfg.max_flows;
  t.seed_ = cfg.seed != 0 ? cfg.seed : (std::uint64_t{std::random_device{}()} << 32 | std::random_device{}()) | 1;
  // One anonymous mapping for entries then tags. Random probes into tens of
  // MB miss the TLB on 4 KiB pages nearly every time; transparent huge
  // pages (MADV_HUGEPAGE, honoured in THP's default "madvise" mode) turn
  // those page walks into STLB hits. Only whole 2 MiB pages inside the
  // table get the advice, so resident memory stays what memory_bytes() says.
  constexpr std::size_t kHuge = std::size_t{2} << 20;
  const std::size_t bytes = slots * sizeof(FlowEntry) + (slots + kTagMirror) * sizeof(std::uint32_t);
  const bool huge = bytes >= kHuge;
  auto map = Mapping::map(bytes + (huge ? kHuge : 0), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0,
                          "flow table");
  if (!map.ok()) return std::move(map).take_error();
  t.mem_ = std::move(map).value();
  auto base = reinterpret_cast<std::uintptr_t>(t.mem_.data());
  if (huge) {
    base = (base + kHuge - 1) & ~(kHuge - 1);
    (void)::madvise(reinterpret_cast<void*>(base), bytes / kHuge * kHuge, MADV_HUGEPAGE);  // advice only
  }
  t.entries_ = reinterpret_cast<FlowEntry*>(base);
  t.tags_ = reinterpret_cast<std::uint32_t*>(base + slots * sizeof(FlowEntry));
  // Touch every page now: the first samples must not pay page faults, and
  // the cap is then resident memory, not a promise.
  std::memset(reinterpret_cast<void*>(base), 0, bytes);
  t.prefetch_second_line_ = bytes > kCacheSizedBytes;
  t.mem_.name("netring-flow-table");
  t.cfg_ = std::move(cfg);
  t.on_export_ = std::move(on_export);
  return t;
}

std::uint64_t FlowTable::now() const {
  if (cfg_.clock) return cfg_.clock();
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

void FlowTable::update(const ParsedPacket& pkt, const SampleInfo& info) {
  const std::uint64_t h = hash_key(pkt.key, seed_);
  update_hashed(pkt, info, h, info.timestamp_ns != 0 ? info.timestamp_ns : now(), home_of(h));
}

// The first slot from `home` whose tag is ours or empty: eight tags per
// step, compared at once, so the usual short probe costs no mispredicted
// loop exit. The tag mirror past the end makes the 8-wide load wrap-free.
inline std::size_t FlowTable::first_candidate(std::size_t home, std::uint32_t tag) const {
#if defined(__SSE2__)
  const __m128i want = _mm_set1_epi32(static_cast<int>(tag));
  const __m128i empty = _mm_setzero_si128();
  const auto* p = reinterpret_cast<const __m128i*>(&tags_[home]);
  const __m128i a = _mm_loadu_si128(p);
  const __m128i b = _mm_loadu_si128(p + 1);
  const int ma = _mm_movemask_ps(_mm_castsi128_ps(_mm_or_si128(_mm_cmpeq_epi32(a, want), _mm_cmpeq_epi32(a, empty))));
  const int mb = _mm_movemask_ps(_mm_castsi128_ps(_mm_or_si128(_mm_cmpeq_epi32(b, want), _mm_cmpeq_epi32(b, empty))));
  const unsigned m = static_cast<unsigned>(ma | mb << 4);
  if (m != 0) {
    const std::size_t i = home + static_cast<std::size_t>(__builtin_ctz(m));
    return i >= slots_ ? i - slots_ : i;
  }
  std::size_t i = home + 8 >= slots_ ? home + 8 - slots_ : home + 8;
#else
  std::size_t i = home;
#endif
  while (tags_[i] != 0 && tags_[i] != tag) i = next(i);
  return i;
}

// Three stages per packet, overlapped across a batch (after hashing it
// all): prefetch the tag line; kAhead packets later, scan the tags for the
// candidate slot and prefetch that entry; kAhead later again, update. Only
// ~2 * kAhead lines are in flight at once, about what a core's fill
// buffers hold, so prefetches are not dropped. The entry (the likely cache miss) thus
// arrives while the packets before it are being processed.
void FlowTable::update_batch(std::span<const ParsedPacket> pkts, std::span<const SampleInfo> infos) {
  const std::size_t n = std::min(pkts.size(), infos.size());
  constexpr std::size_t kChunk = 64;
  constexpr std::size_t kAhead = 12;
  struct Pending {
    std::uint64_t hash;
    std::size_t start;
    std::uint64_t removals;
  };
  Pending pend[kChunk];
  std::uint64_t clock_now = 0;
  for (std::size_t base = 0; base < n; base += kChunk) {
    const std::size_t m = std::min(kChunk, n - base);
    for (std::size_t j = 0; j < m; ++j) pend[j].hash = hash_key(pkts[base + j].key, seed_);
    auto prefetch_tags = [&](std::size_t j) { __builtin_prefetch(&tags_[home_of(pend[j].hash)], 0, 3); };
    auto locate = [&](std::size_t j) {
      const std::size_t i = first_candidate(home_of(pend[j].hash), tag_of(pend[j].hash));
      pend[j].removals = removals_;
      pend[j].start = i;
      const char* e = reinterpret_cast<const char*>(&entries_[i]);
      __builtin_prefetch(e, 1, 3);
      // The update writes the record's second line too. In a table the
      // caches hold, the adjacent-line prefetcher fetches it in time and an
      // extra prefetch only costs issue slots; past that it is a second
      // DRAM miss per packet, and overlapping it pays (~10% at 1M flows).
      if (prefetch_second_line_) __builtin_prefetch(e + 64, 1, 3);
    };
    for (std::size_t j = 0; j < std::min(2 * kAhead, m); ++j) prefetch_tags(j);
    for (std::size_t j = 0; j < std::min(kAhead, m); ++j) locate(j);
    for (std::size_t j = 0; j < m; ++j) {
      if (j + 2 * kAhead < m) prefetch_tags(j + 2 * kAhead);
      if (j + kAhead < m) locate(j + kAhead);
      const SampleInfo& info = infos[base + j];
      std::uint64_t ts = info.timestamp_ns;
      if (ts == 0) {
        if (clock_now == 0) clock_now = now();
        ts = clock_now;
      }
      // Slots before `start` held other keys and inserts only fill empty
      // slots, so the scan may resume there, unless a removal has since
      // shifted entries backwards.
      const std::size_t start = pend[j].removals == removals_ ? pend[j].start : home_of(pend[j].hash);
      update_hashed(pkts[base + j], info, pend[j].hash, ts, start);
    }
  }
}

void FlowTable::update_hashed(const ParsedPacket& pkt, const SampleInfo& info, std::uint64_t hash, std::uint64_t ts,
                              std::size_t start) {
  ++stats_.samples;
  const std::uint32_t ip_len =
      pkt.ip_len != 0 ? pkt.ip_len : (info.wire_len > pkt.l3_offset ? info.wire_len - pkt.l3_offset : 0);
  const std::uint32_t tag = tag_of(hash);
  std::size_t i = start;
  for (;;) {
    const std::uint32_t t = tags_[i];
    if (t == tag && entries_[i].key == pkt.key) {
      entries_[i].record.add(info, ip_len, pkt.tcp_flags, ts);
      return;
    }
    if (t == 0) break;
    i = next(i);
  }
  if (size_ >= max_flows_) {
    i = slot_for_new(hash);
    if (i == slots_) {
      overflow_.add(info, ip_len, pkt.tcp_flags, ts);
      ++stats_.overflow_updates;
      return;
    }
  }
  set_tag(i, tag);
  FlowEntry& e = entries_[i];
  e.key = pkt.key;
  e.record = FlowRecord{};
  e.record.add(info, ip_len, pkt.tcp_flags, ts);
  ++size_;
  ++stats_.inserts;
}

std::size_t FlowTable::slot_for_new(std::uint64_t hash) {
  if (!allow_eviction_) return slots_;
  const std::size_t home = home_of(hash);
  evict_near(home);
  // Backward shift may have moved the cluster: find the first free slot again.
  std::size_t i = home;
  while (tags_[i] != 0) i = next(i);
  return i;
}

void FlowTable::update_exact(const FlowKey& key, const ExactCounts& counts) {
  ++stats_.exact_updates;
  const std::uint64_t hash = hash_key(key, seed_);
  const std::uint32_t tag = tag_of(hash);
  std::size_t i = home_of(hash);
  for (;;) {
    const std::uint32_t t = tags_[i];
    if (t == tag && entries_[i].key == key) {
      entries_[i].record.add_exact(counts);
      return;
    }
    if (t == 0) break;
    i = next(i);
  }
  if (size_ >= max_flows_) {
    i = slot_for_new(hash);
    if (i == slots_) {
      overflow_.add_exact(counts);
      ++stats_.overflow_updates;
      return;
    }
  }
  set_tag(i, tag);
  FlowEntry& e = entries_[i];
  e.key = key;
  e.record = FlowRecord{};
  e.record.add_exact(counts);
  ++size_;
  ++stats_.inserts;
}

std::size_t FlowTable::find_slot(const FlowKey& key, std::uint64_t hash) const {
  const std::uint32_t tag = tag_of(hash);
  for (std::size_t i = home_of(hash);; i = next(i)) {
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
  for (std::size_t i = home, n = 0; seen < cfg_.eviction_window && n < slots_; i = next(i), ++n) {
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
    j = next(j);
    if (tags_[j] == 0) break;
    const std::size_t home = home_of(hash_key(entries_[j].key, seed_));
    // Is `home` cyclically outside (hole, j]? Then entries_[j] may move to the hole.
    const bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
    if (movable) {
      set_tag(hole, tags_[j]);
      entries_[hole] = entries_[j];
      hole = j;
    }
  }
  set_tag(hole, 0);
  --size_;
  ++removals_;
}

std::size_t FlowTable::expire(std::size_t max_slots, std::size_t max_exports) {
  const std::uint64_t t = now();
  std::size_t removed = 0;
  const std::size_t budget = std::min(max_slots, slots_);
  for (std::size_t n = 0; n < budget && removed < max_exports; ++n) {
    const std::size_t i = cursor_;
    // A sweep reads every occupied entry, scattered over the table: fetch
    // the one a few slots on while this one is looked at (its times are in
    // the entry's second line).
    if (const std::size_t a = (i + kExpireAhead) % slots_; tags_[a] != 0)
      __builtin_prefetch(reinterpret_cast<const char*>(&entries_[a]) + 64, 0, 3);
    // A removal may shift the next entry into slot i: look at i again
    // before moving on (bounded: each pass removes one flow).
    while (tags_[i] != 0 && removed < max_exports) {
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
    if (removed >= max_exports) break;  // slot i is looked at again next time
    cursor_ = next(cursor_);
  }
  return removed;
}

}  // namespace netring::flow
