#include "agent/metrics/kernel_event_metrics.hpp"

namespace netring::agent::metrics {

KernelEventMetrics::KernelEventMetrics(prometheus::Registry& registry, LabelLevel level, std::size_t max_series)
    : level_(level),
      max_series_(max_series),
      drops_(
          prometheus::BuildCounter()
              .Name("netring_drops_total")
              .Help("Packets (skbs) the kernel of this node dropped, by the kernel's drop reason (skb:kfree_skb; "
                    "NOT_SPECIFIED: freed with kfree_skb() without a reason) and source/destination identity "
                    "(\"none\": no IP header), counted in the kernel; past 10,000 drops per CPU and second, one in 16 "
                    "is attributed and counts for 16 (the status's kernel_events.drops.storm_sampled)")
              .Register(registry)),
      retransmits_(prometheus::BuildCounter()
                       .Name("netring_tcp_retransmits_total")
                       .Help("TCP segments retransmitted by sockets of this node (tcp:tcp_retransmit_skb, the unit of "
                             "TcpRetransSegs), by sender (src) and receiver (dst) identity")
                       .Register(registry)),
      dropped_(prometheus::BuildCounter()
                   .Name("netring_kernel_event_series_dropped_total")
                   .Help("Drop and retransmit counter updates dropped because their series would have passed "
                         "--max-series")
                   .Register(registry)
                   .Add({})) {}

template <class MakeLabels>
prometheus::Counter* KernelEventMetrics::counter(prometheus::Family<prometheus::Counter>& family,
                                                 MakeLabels&& make_labels) {
  if (auto it = series_.find(key_); it != series_.end()) return it->second;
  if (series_.size() + 1 > max_series_) {
    dropped_.Increment();
    return nullptr;
  }
  const prometheus::Labels labels = make_labels();
  prometheus::Counter* c = &family.Add(labels);
  if (level_ == LabelLevel::kPod) pod_series_.add(key_, labels, [&family, c] { family.Remove(c); });
  series_.emplace(key_, c);
  return c;
}

void KernelEventMetrics::remove_pods(std::span<const std::string> pods) {
  std::lock_guard lock(mu_);
  for (const std::string& k : pod_series_.remove(pods)) series_.erase(k);
}

// The series are found by a key of the label values written into key_
// (drops come in thousands of keys a second in a storm), and their labels
// are built only for a new one.
void KernelEventMetrics::add_drops(const std::string& reason, bool has_flow, const Identity& src, const Identity& dst,
                                   std::uint8_t protocol, std::uint64_t packets) {
  std::lock_guard lock(mu_);
  key_.assign("d\x1f").append(reason).push_back('\x1f');
  if (has_flow) {
    append_endpoint_key(key_, level_, src);
    append_endpoint_key(key_, level_, dst);
    key_.append(protocol_name(protocol));
  }  // else the reason alone: every other label is "none"
  auto* c = counter(drops_, [&] {
    prometheus::Labels labels{{"reason", reason}};
    if (has_flow) {
      add_endpoint_labels(labels, level_, src, dst);
      labels.emplace("protocol", protocol_name(protocol));
    } else {
      // The same label names, so one query covers both.
      Identity none;
      add_endpoint_labels(labels, level_, none, none);
      for (auto& [name, value] : labels)
        if (name != "reason") value = "none";
      labels.emplace("protocol", "none");
    }
    return labels;
  });
  if (c) c->Increment(static_cast<double>(packets));
}

void KernelEventMetrics::add_retransmits(const Identity& src, const Identity& dst, std::uint64_t segments) {
  std::lock_guard lock(mu_);
  key_.assign("r\x1f");
  append_endpoint_key(key_, level_, src);
  append_endpoint_key(key_, level_, dst);
  auto* c = counter(retransmits_, [&] { return pair_labels(level_, src, dst); });
  if (c) c->Increment(static_cast<double>(segments));
}

std::size_t KernelEventMetrics::series() const {
  std::lock_guard lock(mu_);
  return series_.size();
}

}  // namespace netring::agent::metrics
