// The series of a metrics family that name pods (label level pod), so the
// series of a deleted pod can be removed once its grace period passed, as
// the flow series are (FlowMetrics::expire decides when, for all of them).
// Not thread-safe: its owner's lock covers it.
#pragma once

#include <prometheus/labels.h>

#include <functional>
#include <span>
#include <string>
#include <vector>

namespace netring::agent::metrics {

class PodSeries {
 public:
  // A series just added under `key`, with the labels it was added with;
  // `remove` takes it out of its family. Series naming no pod are not kept.
  void add(std::string key, const prometheus::Labels& labels, std::function<void()> remove);
  // Removes every series naming one of `pods` ("ns/pod") at either end;
  // returns their keys.
  std::vector<std::string> remove(std::span<const std::string> pods);
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string key, src_pod, dst_pod;  // "ns/pod"; empty: not a pod
    std::function<void()> remove;
  };
  std::vector<Entry> entries_;
};

}  // namespace netring::agent::metrics
