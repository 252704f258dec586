#include "agent/metrics/agent_metrics.hpp"

#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>

namespace netring::agent {
const char* version();
}

namespace netring::agent::metrics {

AgentMetrics::AgentMetrics(const SnapshotProvider& provider, FlowMetricsOptions opts)
    : registry_(std::make_shared<prometheus::Registry>()),
      flows_(*registry_, opts),
      tracker_(flows_),
      collector_(provider) {
  prometheus::BuildGauge()
      .Name("netring_build_info")
      .Help("Build of the running agent (always 1)")
      .Register(*registry_)
      .Add({{"version", version()}, {"label_level", to_string(opts.level)}})
      .Set(1);
}

void AgentMetrics::update_flows(std::span<const FlowView> live, std::span<const FlowView> evicted,
                                std::span<const std::string> pods_gone) {
  std::lock_guard lock(tracker_mu_);
  tracker_.update(live, evicted);
  for (const std::string& p : pods_gone) flows_.pod_gone(p);
  // Publications are periodic, so they also drive the pod grace periods.
  flows_.expire(FlowMetrics::Clock::now());
}

std::string AgentMetrics::expose() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  std::vector<prometheus::MetricFamily> more = collector_.Collect();
  families.insert(families.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace netring::agent::metrics
