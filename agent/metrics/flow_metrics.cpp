#include "agent/metrics/flow_metrics.hpp"

#include <netinet/in.h>

#include <vector>

namespace netring::agent::metrics {
namespace {

std::string pod_key(std::string_view ns, std::string_view pod) {
  std::string k;
  k.reserve(ns.size() + pod.size() + 1);
  k.append(ns).push_back('/');
  k.append(pod);
  return k;
}

constexpr const char* kFlagNames[8] = {"fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr"};

}  // namespace

FlowMetrics::FlowMetrics(prometheus::Registry& registry, FlowMetricsOptions opts)
    : opts_(opts),
      bytes_(prometheus::BuildCounter()
                 .Name("netring_flow_bytes_total")
                 .Help("L3 bytes (IP header + payload, one IP header per GSO skb: conntrack's unit) of flows by "
                       "source/destination identity: exact where the kernel counted them (--exact-flows), estimated "
                       "from samples (sum of 1/p) otherwise")
                 .Register(registry)),
      packets_(prometheus::BuildCounter()
                   .Name("netring_flow_packets_total")
                   .Help("Packets of flows by source/destination identity, a GSO/GRO super-packet counting once "
                         "(conntrack's unit): exact where the kernel counted them, estimated from samples otherwise")
                   .Register(registry)),
      tcp_flags_(prometheus::BuildCounter()
                     .Name("netring_tcp_flags_total")
                     .Help("TCP flows in which a flag was seen, counted once per flow when the flag first appears")
                     .Register(registry)),
      icmp_(prometheus::BuildCounter()
                .Name("netring_icmp_packets_total")
                .Help("Estimated ICMP/ICMPv6 packets by type")
                .Register(registry)),
      dropped_(prometheus::BuildCounter()
                   .Name("netring_flow_series_dropped_total")
                   .Help("Flow metric updates dropped because their series would have passed --max-series")
                   .Register(registry)
                   .Add({})),
      removed_(prometheus::BuildCounter()
                   .Name("netring_flow_series_removed_total")
                   .Help("Flow series removed after their pod was deleted and the grace period passed")
                   .Register(registry)
                   .Add({})),
      series_gauge_(prometheus::BuildGauge()
                        .Name("netring_flow_series")
                        .Help("Flow metric series currently exported (bytes and packets each count)")
                        .Register(registry)
                        .Add({{"label_level", to_string(opts.level)}})) {
  for (int i = 0; i < 8; ++i) flag_counters_[i] = &tcp_flags_.Add({{"flag", kFlagNames[i]}});
}

void FlowMetrics::add(const FlowView& flow, double packets, double bytes, std::uint8_t new_tcp_flags) {
  if (packets < 0) packets = 0;
  if (bytes < 0) bytes = 0;
  std::lock_guard lock(mu_);
  // Every flow of every publication comes here: its series is found by a
  // key written into a reused buffer (the label values in a fixed order),
  // and the labels are built only for a new series. Building them for each
  // lookup was about ten allocations per flow and second.
  key_.clear();
  append_endpoint_key(key_, opts_.level, *flow.src_id);
  append_endpoint_key(key_, opts_.level, *flow.dst_id);
  key_.append(to_string(flow.direction)).push_back('\x1f');
  key_.append(protocol_name(flow.protocol)).push_back('\x1f');
  key_.append(to_string(flow.reporter));
  auto it = entries_.find(key_);
  if (it == entries_.end()) {
    if (entries_.size() * 2 + 2 > opts_.max_series) {
      dropped_.Increment();
    } else {
      const prometheus::Labels labels = flow_labels(opts_.level, flow);
      Entry e{&bytes_.Add(labels), &packets_.Add(labels), {}, {}};
      if (opts_.level == LabelLevel::kPod) {
        if (flow.src_id->is_pod()) e.src_pod = pod_key(flow.src_id->ns, flow.src_id->pod);
        if (flow.dst_id->is_pod()) e.dst_pod = pod_key(flow.dst_id->ns, flow.dst_id->pod);
      }
      it = entries_.emplace(key_, std::move(e)).first;
      series_gauge_.Set(static_cast<double>(entries_.size() * 2));
    }
  }
  if (it != entries_.end()) {
    it->second.bytes->Increment(bytes);
    it->second.packets->Increment(packets);
  }
  if (flow.protocol == IPPROTO_TCP) {
    for (int i = 0; i < 8; ++i)
      if (new_tcp_flags & (1u << i)) flag_counters_[i]->Increment();
  } else if ((flow.protocol == IPPROTO_ICMP || flow.protocol == IPPROTO_ICMPV6) && packets > 0) {
    // Type only: a code label would let one sender create 65536 series.
    icmp_.Add({{"protocol", protocol_name(flow.protocol)}, {"type", std::to_string(flow.icmp_type)}})
        .Increment(packets);
  }
  // After the counters moved: a scrape that reads the new generation sees
  // them (release/acquire); one that read the old one renders again next time.
  generation_.fetch_add(1, std::memory_order_release);
}

void FlowMetrics::pod_deleted(std::string_view ns, std::string_view pod, Clock::time_point now) {
  std::lock_guard lock(mu_);
  deleted_pods_[pod_key(ns, pod)] = now + opts_.pod_grace_period;
}

void FlowMetrics::pod_gone(std::string_view ns_pod) {
  std::lock_guard lock(mu_);
  deleted_pods_[std::string(ns_pod)] = Clock::time_point::min();
}

void FlowMetrics::pod_restored(std::string_view ns, std::string_view pod) {
  std::lock_guard lock(mu_);
  deleted_pods_.erase(pod_key(ns, pod));
}

std::size_t FlowMetrics::expire(Clock::time_point now, std::vector<std::string>* gone_pods) {
  std::lock_guard lock(mu_);
  std::vector<std::string> gone;
  for (auto it = deleted_pods_.begin(); it != deleted_pods_.end();) {
    if (it->second <= now) {
      gone.push_back(it->first);
      it = deleted_pods_.erase(it);
    } else {
      ++it;
    }
  }
  if (gone_pods != nullptr) gone_pods->insert(gone_pods->end(), gone.begin(), gone.end());
  if (gone.empty() || opts_.level != LabelLevel::kPod) return 0;
  auto is_gone = [&](const std::string& p) {
    if (p.empty()) return false;
    for (const auto& g : gone)
      if (g == p) return true;
    return false;
  };
  std::size_t removed = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (is_gone(it->second.src_pod) || is_gone(it->second.dst_pod)) {
      bytes_.Remove(it->second.bytes);
      packets_.Remove(it->second.packets);
      it = entries_.erase(it);
      removed += 2;
    } else {
      ++it;
    }
  }
  removed_.Increment(static_cast<double>(removed));
  series_gauge_.Set(static_cast<double>(entries_.size() * 2));
  generation_.fetch_add(1, std::memory_order_release);
  return removed;
}

std::size_t FlowMetrics::series() const {
  std::lock_guard lock(mu_);
  return entries_.size() * 2;
}

}  // namespace netring::agent::metrics
