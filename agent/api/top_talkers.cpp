#include "agent/api/top_talkers.hpp"

#include <algorithm>
#include <unordered_map>

namespace netring::agent::api {
namespace {

std::string workload_of(const metrics::EndpointLabels& l) {
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

std::string top_key_of(TopKey key, const metrics::EndpointLabels& src, const metrics::EndpointLabels& dst,
                       std::string* src_out, std::string* dst_out) {
  switch (key) {
    case TopKey::kSrcWorkload: return workload_of(src);
    case TopKey::kDstWorkload: return workload_of(dst);
    case TopKey::kPair: {
      std::string s = workload_of(src), d = workload_of(dst);
      std::string k = s + " -> " + d;
      if (src_out) *src_out = std::move(s);
      if (dst_out) *dst_out = std::move(d);
      return k;
    }
    case TopKey::kNamespace: return src.ns.empty() ? src.workload : src.ns;
    case TopKey::kPod: return src.ns.empty() ? src.pod : src.ns + "/" + src.pod;
  }
  return {};
}

void rank_top_entries(std::vector<TopEntry>& entries, TopBy by, std::size_t limit, std::size_t* groups) {
  if (groups) *groups = entries.size();
  auto before = [by](const TopEntry& a, const TopEntry& b) {
    double ka = by == TopBy::kBytes ? a.bytes : a.packets, kb = by == TopBy::kBytes ? b.bytes : b.packets;
    if (ka != kb) return ka > kb;
    return a.key < b.key;
  };
  std::size_t n = std::min(limit, entries.size());
  std::partial_sort(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(n), entries.end(), before);
  entries.resize(n);
}

std::vector<TopEntry> top_talkers(std::span<const FlowView> flows, TopKey key, TopBy by, std::size_t limit,
                                  std::size_t* groups) {
  std::unordered_map<std::string, TopEntry> acc;
  for (const FlowView& f : flows) {
    std::string s, d;
    std::string k = top_key_of(key, metrics::endpoint_labels(f.src_id), metrics::endpoint_labels(f.dst_id), &s, &d);
    TopEntry& e = acc[k];
    if (e.flows == 0) {
      e.key = std::move(k);
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
  rank_top_entries(out, by, limit, groups);
  return out;
}

}  // namespace netring::agent::api
