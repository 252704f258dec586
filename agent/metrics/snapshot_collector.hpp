// Metrics read straight from the published snapshot at scrape time: exact
// interface counters, sample loss by stage and reason, flow-table state,
// capture backend and fallbacks, Kubernetes watch health.
//
// These are running totals the data path already keeps (kernel counters,
// XDP_STATISTICS, table counters), so they are exported as they are rather
// than mirrored into prometheus-cpp counters: no second copy to keep in step,
// and an interface that disappears takes its series with it.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

#include "agent/model.hpp"

namespace netring::agent::metrics {

class SnapshotCollector final : public prometheus::Collectable {
 public:
  explicit SnapshotCollector(const SnapshotProvider& provider) : provider_(provider) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const SnapshotProvider& provider_;
};

}  // namespace netring::agent::metrics
