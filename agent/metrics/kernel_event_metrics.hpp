// Counters of kernel events by identity: packet drops by the kernel's drop
// reason and TCP retransmitted segments, at the configured label level.
// Fed with increments by the publisher (what the kernel counted since the
// previous drain), so they only ever grow. Series are capped like the flow
// series (--max-series, counted apart): past the cap an increment goes to
// netring_kernel_event_series_dropped_total.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>

#include "agent/metrics/label_level.hpp"
#include "agent/metrics/pod_series.hpp"
#include "agent/model.hpp"

namespace netring::agent::metrics {

class KernelEventMetrics {
 public:
  KernelEventMetrics(prometheus::Registry& registry, LabelLevel level, std::size_t max_series);
  KernelEventMetrics(const KernelEventMetrics&) = delete;
  KernelEventMetrics& operator=(const KernelEventMetrics&) = delete;

  // `has_flow` false: the packet had no IP header; its endpoint labels are
  // "none". protocol is IPPROTO_*.
  void add_drops(const std::string& reason, bool has_flow, const Identity& src, const Identity& dst,
                 std::uint8_t protocol, std::uint64_t packets);
  // Segments the source retransmitted towards the destination.
  void add_retransmits(const Identity& src, const Identity& dst, std::uint64_t segments);

  // The pods ("ns/pod") are gone and their grace period passed: their
  // series go (label level pod; at other levels no series names a pod).
  void remove_pods(std::span<const std::string> pods);

  std::size_t series() const;

 private:
  // Under mu_: the series whose key is in key_, made with make_labels()
  // when it is new; nullptr past max_series.
  template <class MakeLabels>
  prometheus::Counter* counter(prometheus::Family<prometheus::Counter>& family, MakeLabels&& make_labels);

  LabelLevel level_;
  std::size_t max_series_;
  prometheus::Family<prometheus::Counter>& drops_;
  prometheus::Family<prometheus::Counter>& retransmits_;
  prometheus::Counter& dropped_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, prometheus::Counter*> series_;
  std::string key_;  // the lookup key, reused (under mu_)
  PodSeries pod_series_;
};

}  // namespace netring::agent::metrics
