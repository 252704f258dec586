// DNS and TCP connection metrics by client/server identity at the label
// level (src_* = client, dst_* = server), from the exact control packets
// (agent/control_packets.hpp). Query names never become labels.
//
// Series are capped like the flow series (FlowMetricsOptions::max_series):
// a label set past the cap is not created and its updates are counted in
// netring_control_series_dropped_total.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "agent/metrics/label_level.hpp"
#include "agent/metrics/pod_series.hpp"
#include "agent/model.hpp"

namespace netring::agent::metrics {

class ControlMetrics {
 public:
  // `qname_label`: the DNS families also carry a qname label (opt-in: a
  // series per name; names past the series cap are counted as dropped).
  ControlMetrics(prometheus::Registry& registry, LabelLevel level, std::size_t max_series, bool qname_label = false);
  ControlMetrics(const ControlMetrics&) = delete;
  ControlMetrics& operator=(const ControlMetrics&) = delete;

  // `qname`: the query's name, used only with the qname label.
  void dns_query(const Identity& client, const Identity& server, std::string_view qname);
  void dns_response(const Identity& client, const Identity& server, std::string_view qname, std::uint8_t rcode);
  void dns_answered(const Identity& client, const Identity& server, std::string_view qname, double latency_s);
  void dns_timeout(const Identity& client, const Identity& server, std::string_view qname);

  void tcp_attempt(const Identity& client, const Identity& server);
  void tcp_established(const Identity& client, const Identity& server, double syn_synack_s, double synack_ack_s);
  void tcp_reset(const Identity& client, const Identity& server, const char* side);

  // The pods ("ns/pod") are gone and their grace period passed: their
  // series go (label level pod; at other levels no series names a pod).
  void remove_pods(std::span<const std::string> pods);

  std::size_t series() const;

 private:
  // Finds or creates the series of `family` for `labels`; nullptr past the cap.
  template <class T>
  T* get(prometheus::Family<T>& family, const prometheus::Labels& labels, std::map<std::string, T*>& cache,
         const prometheus::Histogram::BucketBoundaries* buckets = nullptr);

  prometheus::Labels dns_labels(const Identity& client, const Identity& server, std::string_view qname) const;

  LabelLevel level_;
  std::size_t max_series_;
  bool qname_label_;
  prometheus::Family<prometheus::Counter>& dns_queries_;
  prometheus::Family<prometheus::Counter>& dns_responses_;
  prometheus::Family<prometheus::Counter>& dns_timeouts_;
  prometheus::Family<prometheus::Histogram>& dns_latency_;
  prometheus::Family<prometheus::Counter>& tcp_attempts_;
  prometheus::Family<prometheus::Counter>& tcp_established_;
  prometheus::Family<prometheus::Counter>& tcp_resets_;
  prometheus::Family<prometheus::Histogram>& tcp_handshake_;
  prometheus::Counter& dropped_;

  mutable std::mutex mu_;
  std::size_t series_ = 0;
  std::map<std::string, prometheus::Counter*> counters_;
  std::map<std::string, prometheus::Histogram*> histograms_;
  PodSeries pod_series_;
};

}  // namespace netring::agent::metrics
