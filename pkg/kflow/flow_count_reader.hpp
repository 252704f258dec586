// Reads the sampler's exact per-flow counts out of the kernel.
//
// Two flow-count maps take turns behind the sampler's map-in-map slot
// (bpf/sampler.bpf.c). drain() puts the idle one in the slot, then empties
// the one it took out: the map-in-map update returns only after an RCU grace
// period, when no program run can still be adding to the old map, so every
// packet counted is read exactly once and no update races a delete (the
// weak spot of reading a live map and deleting idle entries from it).
// Between two drains each map holds the flows active in one period.
//
// Sizing: a packet's lookup in the map walks a hash bucket, and the bucket
// array (16 bytes per entry of capacity, the kernel rounds the capacity up
// to a power of two) is what it misses in cache first: a map four times too
// large cost the most detailed mode about a quarter of its per-packet time
// at 10k flows (bench/results/ANALYSIS.md section 9). So, with sizing on,
// each map, once drained, is replaced by one sized for the flows its period
// held: grown at once when it filled (its overflow went to the estimator,
// counted as map_full), shrunk only after shrink_after periods in a row used
// at most a quarter of it. The kernel checks an inner map against the slot's
// template by type, key, value and flags, not size.
//
// Borrows the map fds it starts with from datapath::Programs, which must
// outlive it; the maps it makes are its own. Not thread-safe: one drainer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pkg/common/error.hpp"
#include "pkg/common/fd.hpp"
#include "pkg/kflow/kernel_flow.hpp"

namespace netring::kflow {

// The capacity range of the maps (entries); min_entries == 0 keeps the
// maps' own size.
struct FlowMapSizing {
  std::uint32_t min_entries = 0;
  std::uint32_t max_entries = 0;
  std::uint32_t shrink_after = 30;  // periods in a row at most a quarter full before a map shrinks
};

// The capacity a map needs for a period like one that held `flows` (a
// quarter more, as a power of two), within `s`; a period that filled a
// map of `capacity` asks for four times that.
std::uint32_t flow_map_capacity(std::uint64_t flows, std::uint32_t capacity, const FlowMapSizing& s);

struct FlowCountReaderStats {
  std::uint64_t drains = 0;
  std::uint64_t flows = 0;          // entries read, over all drains
  std::uint64_t last_flows = 0;     // entries of the latest drain
  std::uint64_t last_drain_ns = 0;  // how long the latest swap + drain took
  std::uint64_t batch_retries = 0;  // a bucket larger than the batch buffer (ENOSPC), buffer grown
  std::uint64_t resizes = 0;        // maps replaced by one of another capacity
  std::uint64_t resize_errors = 0;  // replacements the kernel refused (the map kept its size)
  std::string last_resize_error;
  std::uint32_t capacity[2] = {0, 0};  // entries each map holds (as of the last drain; 0 before)
};

class FlowCountReader {
 public:
  // flow_maps_fd: the ARRAY_OF_MAPS whose entry 0 the sampler writes;
  // map0_fd, map1_fd: the two maps that take turns there (either may be in
  // the slot: drain() looks).
  FlowCountReader(int flow_maps_fd, int map0_fd, int map1_fd, FlowMapSizing sizing = {}, std::uint32_t batch = 1024);

  // Swaps the maps and appends every flow of the one taken out to `out`
  // (its entries are deleted as they are read).
  Result<std::size_t> drain(std::vector<KernelFlow>& out);

  const FlowCountReaderStats& stats() const { return stats_; }
  // Entries the map in the slot holds (0 before the first drain).
  std::uint32_t slot_capacity() const { return stats_.capacity[active_]; }

 private:
  Result<std::size_t> empty_into(int map_fd, std::vector<KernelFlow>& out);
  // Replaces idle map `i` (just drained, `flows` in its period) when its
  // capacity no longer fits.
  Result<void> resize(int i, std::uint64_t flows);

  int slots_fd_;
  int maps_[2];
  UniqueFd owned_[2];  // maps_[i] when this reader made it
  FlowMapSizing sizing_;
  std::uint32_t under_used_[2] = {0, 0};  // periods in a row map i used at most a quarter of itself
  int active_ = 0;                        // index into maps_ of the map in the slot (as of the last look)
  std::uint32_t batch_;
  std::vector<netring_flow_key> keys_;
  std::vector<netring_flow_counts> values_;
  FlowCountReaderStats stats_;
};

}  // namespace netring::kflow
