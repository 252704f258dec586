#include "agent/api/top_talkers.hpp"

#include <algorithm>
#include <unordered_map>

#include "agent/metrics/label_level.hpp"

namespace netring::agent::api {
namespace {

std::string workload_of(const Identity& id) {
  auto l = metrics::endpoint_labels(id);
  return l.ns.empty() ? l.workload : l.ns + "/" + l.workload;
}

}  // namespace

std::optional<TopKey> parse_top_key(std::string_view text) {
  if (text == "src_workload") return TopKey::kSrcWorkload;
  if (text == "dst_workload") return TopKey::kDstWorkload;
  if (text == "pair") return TopKey::kPair;
  if (text == "namespace") return TopKey::kNamespace;
  if (text == "pod") return TopKey::kPod;
  return std::nullopt;
}

std::vector<TopEntry> top_talkers(std::span<const FlowView> flows, TopKey key, TopBy by, std::size_t limit,
                                  std::size_t* groups) {
  std::unordered_map<std::string, TopEntry> acc;
  for (const FlowView& f : flows) {
    std::string k, s, d;
    switch (key) {
      case TopKey::kSrcWorkload: k = workload_of(f.src_id); break;
      case TopKey::kDstWorkload: k = workload_of(f.dst_id); break;
      case TopKey::kPair:
        s = workload_of(f.src_id);
        d = workload_of(f.dst_id);
        k = s + " -> " + d;
        break;
      case TopKey::kNamespace: {
        auto l = metrics::endpoint_labels(f.src_id);
        k = l.ns.empty() ? l.workload : l.ns;
        break;
      }
      case TopKey::kPod: {
        auto l = metrics::endpoint_labels(f.src_id);
        k = l.ns.empty() ? l.pod : l.ns + "/" + l.pod;
        break;
      }
    }
    TopEntry& e = acc[k];
    if (e.flows == 0) {
      e.key = k;
      e.src = std::move(s);
      e.dst = std::move(d);
    }
    e.bytes += f.bytes;
    e.packets += f.packets;
    ++e.flows;
  }
  std::vector<TopEntry> out;
  out.reserve(acc.size());
  for (auto& [k, e] : acc) out.push_back(std::move(e));
  if (groups) *groups = out.size();
  auto before = [by](const TopEntry& a, const TopEntry& b) {
    double ka = by == TopBy::kBytes ? a.bytes : a.packets, kb = by == TopBy::kBytes ? b.bytes : b.packets;
    if (ka != kb) return ka > kb;
    return a.key < b.key;
  };
  std::size_t n = std::min(limit, out.size());
  std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n), out.end(), before);
  out.resize(n);
  return out;
}

}  // namespace netring::agent::api
