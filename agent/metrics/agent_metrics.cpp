#include "agent/metrics/agent_metrics.hpp"

#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>

#include <sstream>

namespace netring::agent {
const char* version();
}

namespace netring::agent::metrics {

AgentMetrics::AgentMetrics(const SnapshotProvider& provider, FlowMetricsOptions opts)
    : registry_(std::make_shared<prometheus::Registry>()),
      flows_(*registry_, opts),
      control_(*registry_, opts.level, opts.max_series, opts.dns_qname_label),
      kernel_events_(*registry_, opts.level, opts.max_series),
      tracker_(flows_),
      collector_(provider),
      provider_(provider) {
  prometheus::BuildGauge()
      .Name("netring_build_info")
      .Help("Build of the running agent (always 1)")
      .Register(*registry_)
      .Add({{"version", version()}, {"label_level", to_string(opts.level)}})
      .Set(1);
}

void AgentMetrics::update_flows(std::span<const FlowView> live, std::span<const FlowView> evicted,
                                std::span<const std::string> pods_gone, std::vector<FlowGrowth>* growth) {
  std::lock_guard lock(tracker_mu_);
  tracker_.update(live, evicted, growth);
  for (const std::string& p : pods_gone) flows_.pod_gone(p);
  // Publications are periodic, so they also drive the pod grace periods,
  // the same for every family that names pods.
  std::vector<std::string> gone;
  flows_.expire(FlowMetrics::Clock::now(), &gone);
  if (!gone.empty()) {
    kernel_events_.remove_pods(gone);
    control_.remove_pods(gone);
  }
}

std::string AgentMetrics::render(std::size_t size_hint) const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  std::vector<prometheus::MetricFamily> more = collector_.Collect();
  families.insert(families.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  // Serializer::Serialize(families) goes through a default std::ostringstream:
  // ~12 reallocations on the way to 2 MB and a final copy out of str(). A
  // stream built on a reserved string (C++20) writes into its capacity, and
  // the rvalue str() hands that string back without copying.
  std::string buf;
  buf.reserve(size_hint + size_hint / 8 + 4096);
  std::ostringstream out(std::move(buf));
  prometheus::TextSerializer().Serialize(out, families);
  return std::move(out).str();
}

std::shared_ptr<const std::string> AgentMetrics::exposition() const {
  std::lock_guard lock(render_mu_);
  // Both keys are read before collecting, so a change racing the rendering
  // leaves the cache keyed to the older state and the next call renders again.
  const std::uint64_t gen = flows_.generation();
  std::shared_ptr<const AgentSnapshot> snap = provider_.snapshot();
  const auto now = std::chrono::steady_clock::now();
  if (rendered_.body && rendered_.flow_generation == gen && rendered_.snapshot == snap &&
      now - rendered_.at < kExpositionMaxAge)
    return rendered_.body;
  auto body = std::make_shared<const std::string>(render(rendered_.body ? rendered_.body->size() : 0));
  rendered_ = {body, gen, std::move(snap), now};
  return body;
}

}  // namespace netring::agent::metrics
