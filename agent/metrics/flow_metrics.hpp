// Flow bytes/packets counters by identity, kept outside the flow tables.
//
// The flow tables evict flows; a counter computed from the live flows would
// drop when one goes. So the counters here only ever receive increments (a
// flow's growth since its last report), and a label set's counter keeps
// everything every flow ever added to it. Series only disappear when the pod
// they name was deleted and its grace period passed (Prometheus handles that
// as the end of a series; it is never a decrease of a live one).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "agent/metrics/label_level.hpp"
#include "agent/model.hpp"

namespace netring::agent::metrics {

struct FlowMetricsOptions {
  LabelLevel level = LabelLevel::kWorkload;
  // Hard cap on the flow series (bytes and packets each count): a label set
  // whose two series would pass it is not created, and its increments are
  // counted in netring_flow_series_dropped_total instead.
  std::size_t max_series = 20000;
  std::chrono::nanoseconds pod_grace_period = std::chrono::seconds(60);
  // The DNS metrics (ControlMetrics) also labelled by query name.
  bool dns_qname_label = false;
};

class FlowMetrics {
 public:
  using Clock = std::chrono::steady_clock;

  FlowMetrics(prometheus::Registry& registry, FlowMetricsOptions opts);
  FlowMetrics(const FlowMetrics&) = delete;
  FlowMetrics& operator=(const FlowMetrics&) = delete;

  // Adds a flow's growth since its previous report. `new_tcp_flags` are the
  // flag bits that appeared in this increment (each is counted once per flow).
  void add(const FlowView& flow, double packets, double bytes, std::uint8_t new_tcp_flags);

  // The pod is gone: its series (at the pod label level) are removed by the
  // first expire() at or after now + grace period.
  void pod_deleted(std::string_view ns, std::string_view pod, Clock::time_point now);
  // The pod ("ns/pod") already went through its grace period elsewhere (the
  // Kubernetes index dropped it): its series go at the next expire().
  void pod_gone(std::string_view ns_pod);
  // The pod came back (same name) before its grace period ended.
  void pod_restored(std::string_view ns, std::string_view pod);
  // Removes the series of pods whose grace period has passed; returns how
  // many series went. `gone` (if given) gets those pods ("ns/pod"), for the
  // other families that name pods.
  std::size_t expire(Clock::time_point now, std::vector<std::string>* gone_pods = nullptr);

  std::size_t series() const;
  LabelLevel level() const { return opts_.level; }
  // Changes whenever add() or expire() may have changed what these families
  // expose, so a rendered exposition can be reused while it stays the same.
  // Read it before collecting: a change racing the collection then only
  // makes the next scrape render again.
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  struct Entry {
    prometheus::Counter* bytes;
    prometheus::Counter* packets;
    std::string src_pod, dst_pod;  // "ns/pod", empty unless the level is pod
  };

  FlowMetricsOptions opts_;
  prometheus::Family<prometheus::Counter>& bytes_;
  prometheus::Family<prometheus::Counter>& packets_;
  prometheus::Family<prometheus::Counter>& tcp_flags_;
  prometheus::Family<prometheus::Counter>& icmp_;
  prometheus::Counter& dropped_;
  prometheus::Counter& removed_;
  prometheus::Gauge& series_gauge_;
  prometheus::Counter* flag_counters_[8];

  mutable std::mutex mu_;
  std::atomic<std::uint64_t> generation_{0};
  std::unordered_map<std::string, Entry> entries_;
  std::string key_;                                        // add()'s lookup key, reused (under mu_)
  std::map<std::string, Clock::time_point> deleted_pods_;  // "ns/pod" -> removal deadline
};

}  // namespace netring::agent::metrics
