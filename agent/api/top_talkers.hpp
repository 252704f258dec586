// GET /api/v1/top: flows summed by a key, largest first.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "agent/metrics/label_level.hpp"
#include "agent/model.hpp"

namespace netring::agent::api {

// src_workload / dst_workload: "namespace/workload" of that end;
// pair: "src -> dst" workloads; namespace: the source's namespace;
// pod: the source's "namespace/pod". Non-pod ends get the metrics' reserved
// names (host, world, service/<name>).
enum class TopKey : std::uint8_t { kSrcWorkload, kDstWorkload, kPair, kNamespace, kPod };
enum class TopBy : std::uint8_t { kBytes, kPackets };

std::optional<TopKey> parse_top_key(std::string_view text);

struct TopEntry {
  std::string key;
  std::string src, dst;  // set for pair
  double bytes = 0, packets = 0;
  std::size_t flows = 0;
};

// The group a flow between these ends falls in; `src`/`dst` get the pair's
// two workloads (key kPair only).
std::string top_key_of(TopKey key, const metrics::EndpointLabels& src, const metrics::EndpointLabels& dst,
                       std::string* src_out, std::string* dst_out);

// Largest first by `by` (ties by key), at most `limit`; `groups` gets the
// number of groups before the limit.
void rank_top_entries(std::vector<TopEntry>& entries, TopBy by, std::size_t limit, std::size_t* groups);

std::vector<TopEntry> top_talkers(std::span<const FlowView> flows, TopKey key, TopBy by, std::size_t limit,
                                  std::size_t* groups = nullptr);

}  // namespace netring::agent::api
