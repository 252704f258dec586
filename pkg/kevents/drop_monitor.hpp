// Packet drops from the kernel (bpf/drops.bpf.c on skb:kfree_skb): exact
// counts by (flow, reason), exact totals by reason, and a rate-limited
// stream of single drops in detail.
//
// Owns the loaded program, its maps and its attachment (the skeleton); the
// tracepoint is detached when the monitor dies.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bpf/kevents.h"
#include "pkg/common/error.hpp"
#include "pkg/flow/key.hpp"
#include "pkg/kevents/drop_reasons.hpp"

namespace netring::kevents {

struct DropMonitorOptions {
  // (flow, reason) pairs per drain period; more go to the totals only. A
  // full map costs every further drop a failed insert on top of its lookup
  // (several times a hit's cost), so it is sized for a storm over ten
  // thousand flows: two preallocated maps of about 2.5 MB each.
  std::uint32_t map_entries = 16384;
  std::uint32_t events_per_sec = 100;  // detailed drops per CPU and second; 0: none
  // Storms: past storm_drops_per_sec drops in a CPU's second (0: never), one
  // drop in N goes to its flow's counts for N, the rest to the reason totals
  // only (exact). N is storm_one_in, or the CPU's previous second's drops /
  // storm_drops_per_sec when larger: a storm of any rate attributes at most
  // about storm_drops_per_sec more a second. Below it every drop is counted by flow:
  // 10,000 a second per CPU is far above a healthy node's drops, and a
  // dropped flood costs each of its packets a few loads instead of a header
  // read and a hash map update (bench/pod_cost.sh's UDP workload is one).
  std::uint32_t storm_drops_per_sec = 10'000;
  std::uint32_t storm_one_in = 16;
  bool attach = true;  // false: loaded only (tests run it with BPF_PROG_TEST_RUN)
  // The program: tp_btf (typed reads, the cheaper) unless it does not load,
  // then raw_tp; raw_tp alone when not attached (BPF_PROG_TEST_RUN runs no
  // tp_btf program) or when asked.
  bool raw_tracepoint_only = false;
  // Interfaces whose drops are not counted (the agent's mirror link), in
  // the network namespace of inode ignore_netns (st_ino of /proc/self/ns/net);
  // at most NETRING_DROP_IGNORE_MAX.
  std::vector<std::uint32_t> ignore_ifindexes;
  std::uint32_t ignore_netns = 0;
};

// One (flow, reason) pair's drops during one drain period.
struct DropCount {
  flow::FlowKey key;  // all zero (family 0): no IP header to key by
  std::uint32_t reason = 0;
  netring_drop_counts counts{};
};

struct DropEvent {
  flow::FlowKey key;
  std::uint32_t reason = 0;
  std::uint32_t ifindex = 0;
  std::uint32_t bytes = 0;
  std::uint64_t ts_ns = 0;  // CLOCK_MONOTONIC
  std::uint64_t location = 0;
};

// Sums over CPUs of the program's counters (NETRING_DROP_STAT_*).
struct DropStats {
  std::uint64_t seen = 0, not_drop = 0, counted = 0, unparsed = 0, map_full = 0, no_map = 0, events = 0, suppressed = 0,
                event_lost = 0, ignored = 0;
  std::uint64_t storm_skipped = 0;  // counted by reason only: a storm's drops left out of the flow counts
};

class DropMonitor {
 public:
  static Result<std::unique_ptr<DropMonitor>> start(const DropMonitorOptions& opts, DropReasons reasons);
  ~DropMonitor();
  DropMonitor(const DropMonitor&) = delete;
  DropMonitor& operator=(const DropMonitor&) = delete;

  // The counts of the period since the previous drain (appended to out).
  Result<std::size_t> drain(std::vector<DropCount>& out);
  // The detailed drops waiting in the ring buffer (appended to out).
  Result<std::size_t> poll_events(std::vector<DropEvent>& out);
  Result<DropStats> stats() const;
  // Cumulative drops by reason value (reasons >= NETRING_DROP_REASON_SLOTS
  // share the last slot); only reasons with drops.
  Result<std::vector<std::pair<std::uint32_t, std::uint64_t>>> reason_totals() const;

  const DropReasons& reasons() const { return reasons_; }
  int program_fd() const;
  // "tp_btf" or "raw_tp", and why not tp_btf when it is raw_tp.
  const std::string& program() const { return program_; }
  const std::string& fallback_reason() const { return fallback_reason_; }

  // Defined in the .cpp (the skeleton's type stays out of this header); public
  // for the ring buffer's C callback.
  struct Impl;

 private:
  explicit DropMonitor(std::unique_ptr<Impl> impl, DropReasons reasons);
  std::unique_ptr<Impl> impl_;
  DropReasons reasons_;
  std::string program_, fallback_reason_;
};

}  // namespace netring::kevents
