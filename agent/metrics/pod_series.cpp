#include "agent/metrics/pod_series.hpp"

#include <algorithm>

namespace netring::agent::metrics {
namespace {

// "ns/pod" from the src_ or dst_ labels of the pod level; empty when the
// end is not a pod (label_level writes "world", "host" or "service/NAME"
// there, with no namespace or a slash no pod name has).
std::string pod_of(const prometheus::Labels& labels, const char* side) {
  const auto pod = labels.find(std::string(side) + "_pod");
  const auto ns = labels.find(std::string(side) + "_namespace");
  if (pod == labels.end() || ns == labels.end() || pod->second.empty() || ns->second.empty() ||
      pod->second.find('/') != std::string::npos)
    return {};
  return ns->second + "/" + pod->second;
}

}  // namespace

void PodSeries::add(std::string key, const prometheus::Labels& labels, std::function<void()> remove) {
  std::string src = pod_of(labels, "src"), dst = pod_of(labels, "dst");
  if (src.empty() && dst.empty()) return;
  entries_.push_back({std::move(key), std::move(src), std::move(dst), std::move(remove)});
}

std::vector<std::string> PodSeries::remove(std::span<const std::string> pods) {
  std::vector<std::string> keys;
  if (pods.empty()) return keys;
  auto named = [&](const std::string& p) { return !p.empty() && std::find(pods.begin(), pods.end(), p) != pods.end(); };
  auto gone = std::stable_partition(entries_.begin(), entries_.end(),
                                    [&](const Entry& e) { return !named(e.src_pod) && !named(e.dst_pod); });
  for (auto it = gone; it != entries_.end(); ++it) {
    it->remove();
    keys.push_back(std::move(it->key));
  }
  entries_.erase(gone, entries_.end());
  return keys;
}

}  // namespace netring::agent::metrics
