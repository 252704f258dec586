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
// Borrows the map fds from datapath::Programs, which must outlive it.
// Not thread-safe: one drainer.
#pragma once

#include <cstdint>
#include <vector>

#include "pkg/common/error.hpp"
#include "pkg/kflow/kernel_flow.hpp"

namespace netring::kflow {

struct FlowCountReaderStats {
  std::uint64_t drains = 0;
  std::uint64_t flows = 0;          // entries read, over all drains
  std::uint64_t last_flows = 0;     // entries of the latest drain
  std::uint64_t last_drain_ns = 0;  // how long the latest swap + drain took
  std::uint64_t batch_retries = 0;  // a bucket larger than the batch buffer (ENOSPC), buffer grown
};

class FlowCountReader {
 public:
  // flow_maps_fd: the ARRAY_OF_MAPS whose entry 0 the sampler writes;
  // map0_fd, map1_fd: the two maps that take turns there (either may be in
  // the slot: drain() looks).
  FlowCountReader(int flow_maps_fd, int map0_fd, int map1_fd, std::uint32_t batch = 1024);

  // Swaps the maps and appends every flow of the one taken out to `out`
  // (its entries are deleted as they are read).
  Result<std::size_t> drain(std::vector<KernelFlow>& out);

  const FlowCountReaderStats& stats() const { return stats_; }

 private:
  Result<std::size_t> empty_into(int map_fd, std::vector<KernelFlow>& out);

  int slots_fd_;
  int maps_[2];
  int active_ = 0;  // index into maps_ of the map in the slot (as of the last look)
  std::uint32_t batch_;
  std::vector<netring_flow_key> keys_;
  std::vector<netring_flow_counts> values_;
  FlowCountReaderStats stats_;
};

}  // namespace netring::kflow
