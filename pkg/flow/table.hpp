// A fixed-capacity flow table for one capture worker.
//
// Memory is allocated once, at create(), from a byte budget, and never again:
// a flood of unique flows (a scan, a SYN flood, spoofed sources) makes the
// table evict, never grow. One table per capture worker, touched by that
// worker's thread only, so the hot path takes no lock; readers get a merged
// copy (FlowSnapshot) that the worker takes between batches.
//
// Layout: open addressing with linear probing over two parallel arrays in
// one huge-page-backed mapping: a 32-bit tag per slot (0 = empty, else high
// hash bits | 1) and a 128-byte entry per slot (key + record, two cache
// lines). A probe compares eight tags at once (SSE2) and touches an entry
// only on a tag match, so a lookup costs about one entry miss;
// update_batch() pipelines a batch (tags prefetched, then the candidate
// entry, then the update) so those misses overlap. Home slots come from a
// multiply-shift, so any slot count works and a table for N flows is sized
// for N, not rounded up to a power of two. Deletion is backward shift (no
// tombstones), so probe sequences never degrade over time. The load factor
// is capped at 3/4: at full load a flow costs (128 + 4) / 0.75 = 176 bytes.
//
// Eviction under pressure is sampled LRU: when the table holds max_flows()
// flows and a new one arrives, the least recently seen of the first
// `eviction_window` occupied slots from the new key's home slot is evicted
// (Redis-style approximated LRU: slots are in hash order, so they are a
// random sample of flows). eviction_window >= slots() makes it exact LRU.
// While the owner cannot take exports (allow_eviction(false): its buffer of
// ended flows is full), a new flow in a full table is not inserted: what it
// counts goes to overflow(), one record that only grows, so no count is
// lost while nothing can leave.
//
// Timeouts use the records' timestamps (CLOCK_MONOTONIC: a step of the wall
// clock neither freezes nor mass-expires flows) against an injected clock:
// expire() removes flows idle for idle_timeout and flows older than
// active_timeout (the NetFlow "active timeout": a long flow is exported in
// pieces, the next sample starts a new record). Every record that leaves the
// table - idle, active or evicted - goes to the export callback first, so
// nothing it counted is lost.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "pkg/common/error.hpp"
#include "pkg/common/mapping.hpp"
#include "pkg/flow/key.hpp"
#include "pkg/flow/parser.hpp"
#include "pkg/flow/record.hpp"

namespace netring::flow {

struct alignas(64) FlowEntry {
  FlowKey key;
  FlowRecord record;
};
static_assert(sizeof(FlowEntry) == 128);

enum class EndReason : std::uint8_t { kIdle, kActive, kEvicted };
const char* to_string(EndReason r);

struct FlowTableConfig {
  std::size_t max_bytes = std::size_t{64} << 20;  // hard cap on tags + entries
  std::size_t max_flows = 0;                      // 0: as many as max_bytes allows
  std::uint64_t idle_timeout_ns = 15'000'000'000;
  std::uint64_t active_timeout_ns = 60'000'000'000;
  unsigned eviction_window = 8;
  std::uint64_t seed = 0;  // hash seed; 0: random
  // Nanoseconds, same epoch as the samples' timestamps (CLOCK_MONOTONIC by
  // default). Read once per batch and per expire(), never per packet.
  std::function<std::uint64_t()> clock;
};

struct FlowTableStats {
  std::uint64_t samples = 0;
  std::uint64_t inserts = 0;
  std::uint64_t evictions = 0;
  std::uint64_t expired_idle = 0;
  std::uint64_t expired_active = 0;
  std::uint64_t exact_updates = 0;     // update_exact() calls
  std::uint64_t overflow_updates = 0;  // samples and exact updates that went to overflow()
};

class FlowTable {
 public:
  using ExportFn = std::function<void(const FlowEntry&, EndReason)>;

  static Result<FlowTable> create(FlowTableConfig cfg, ExportFn on_export = {});

  FlowTable(FlowTable&&) noexcept = default;
  FlowTable& operator=(FlowTable&&) noexcept = default;
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  // One sample. The packet must have parsed with ParseStatus::kOk.
  void update(const ParsedPacket& pkt, const SampleInfo& info);
  // A batch (pkts[i] with infos[i]): hashes and prefetches first.
  void update_batch(std::span<const ParsedPacket> pkts, std::span<const SampleInfo> infos);
  // A flow's exact counts for one period, from the kernel.
  void update_exact(const FlowKey& key, const ExactCounts& counts);

  // Exports and removes timed-out flows, examining at most `max_slots` slots
  // from where the previous call stopped (incremental sweeps keep a worker's
  // pause short on a big table), and exporting at most `max_exports`.
  // Returns how many flows left.
  std::size_t expire(std::size_t max_slots = SIZE_MAX, std::size_t max_exports = SIZE_MAX);

  // Whether a new flow may evict an old one when the table is full (the
  // export callback must then take the old one). Default true.
  void allow_eviction(bool allow) { allow_eviction_ = allow; }
  // What new flows counted while the table was full and eviction was not
  // allowed: no key (their endpoints are unknown), totals that only grow.
  const FlowRecord& overflow() const { return overflow_; }

  const FlowRecord* find(const FlowKey& key) const;
  // In slot order. The tags are scanned ahead of the calls and the entries
  // fetched a few flows early: a big table's occupied entries are scattered
  // over megabytes, and the misses then overlap instead of coming one by one.
  template <class F>
  void for_each(F&& f) const {
    constexpr std::size_t kAhead = 8;
    std::size_t pending[kAhead];
    std::size_t head = 0, count = 0;
    for (std::size_t i = 0; i < slots_; ++i) {
      if (tags_[i] == 0) continue;
      __builtin_prefetch(&entries_[i], 0, 3);
      __builtin_prefetch(reinterpret_cast<const char*>(&entries_[i]) + 64, 0, 3);
      if (count < kAhead) {
        pending[count++] = i;
        continue;
      }
      f(entries_[pending[head]]);
      pending[head] = i;
      head = head + 1 == kAhead ? 0 : head + 1;
    }
    for (std::size_t k = 0; k < count; ++k) f(entries_[pending[(head + k) % kAhead]]);
  }

  std::size_t size() const { return size_; }
  std::size_t max_flows() const { return max_flows_; }
  std::size_t slots() const { return slots_; }
  std::size_t memory_bytes() const {
    return slots_ * sizeof(FlowEntry) + (slots_ + kTagMirror) * sizeof(std::uint32_t);
  }
  const FlowTableStats& stats() const { return stats_; }

 private:
  FlowTable() = default;

  std::uint64_t now() const;
  void update_hashed(const ParsedPacket& pkt, const SampleInfo& info, std::uint64_t hash, std::uint64_t ts,
                     std::size_t start);
  std::size_t find_slot(const FlowKey& key, std::uint64_t hash) const;  // slots_ if absent
  void evict_near(std::size_t home);
  void remove_at(std::size_t slot);
  // Lemire's multiply-shift range reduction of the low 32 hash bits (the
  // tag uses the high ones): any slot count, no division.
  std::size_t home_of(std::uint64_t hash) const {
    return static_cast<std::size_t>((hash & 0xffffffffu) * static_cast<std::uint64_t>(slots_) >> 32);
  }
  std::size_t next(std::size_t i) const { return i + 1 == slots_ ? 0 : i + 1; }
  // tags_[slots_ + i] mirrors tags_[i] for i < kTagMirror (see first_candidate).
  static constexpr std::size_t kTagMirror = 16;
  static constexpr std::size_t kExpireAhead = 16;  // slots: a few occupied ones at any load
  void set_tag(std::size_t i, std::uint32_t v) {
    tags_[i] = v;
    if (i < kTagMirror) tags_[slots_ + i] = v;
  }
  [[gnu::always_inline]] inline std::size_t first_candidate(std::size_t home, std::uint32_t tag) const;
  static std::uint32_t tag_of(std::uint64_t hash) { return static_cast<std::uint32_t>(hash >> 32) | 1u; }

  Mapping mem_;
  std::uint32_t* tags_ = nullptr;
  FlowEntry* entries_ = nullptr;
  std::size_t slots_ = 0;
  std::size_t max_flows_ = 0;
  std::size_t size_ = 0;
  std::size_t cursor_ = 0;
  std::uint64_t removals_ = 0;  // tells update_batch that entries may have shifted
  std::uint64_t seed_ = 0;
  // Above this size the table is taken to be out of cache (a core's L2 plus
  // its share of L3 on current x86 server parts): see update_batch().
  static constexpr std::size_t kCacheSizedBytes = std::size_t{4} << 20;
  bool prefetch_second_line_ = false;
  // A free slot for a new entry of `hash` (evicting if full), or slots_
  // when the table is full and eviction is not allowed.
  std::size_t slot_for_new(std::uint64_t hash);

  FlowTableConfig cfg_;
  ExportFn on_export_;
  FlowTableStats stats_;
  bool allow_eviction_ = true;
  FlowRecord overflow_;
};

}  // namespace netring::flow
