// Sums flows into groups for the metrics layer.
//
// The caller says what a group is (a key function over the flow and its
// endpoints' identities) and how an address becomes an identity (a lookup
// into its Kubernetes metadata, e.g. "default/frontend"). Each group sums
// the flows' estimates and their variances, so a group's 99% interval is as
// honest as a flow's: flows' samples are independent draws, their variances
// add.
//
// Not a hot path: it runs on a snapshot, once per scrape or export.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "pkg/flow/estimator.hpp"
#include "pkg/flow/key.hpp"
#include "pkg/flow/record.hpp"
#include "pkg/flow/snapshot.hpp"

namespace netring::flow {

// Address -> identity; an empty string for an address the caller does not know.
using IdentityFn = std::function<std::string(const Address&)>;

struct GroupKey {
  std::string src;  // identity, or whatever the key function puts there
  std::string dst;
  std::uint8_t protocol = 0;
  Direction direction = Direction::kUnknown;
  std::uint32_t ifindex = 0;

  auto operator<=>(const GroupKey&) const = default;
};

struct FlowRef {
  const FlowKey& key;
  const FlowRecord& record;
  const std::string& src_identity;
  const std::string& dst_identity;
};

using GroupFn = std::function<GroupKey(const FlowRef&)>;

struct GroupTotals {
  Estimate packets;
  Estimate bytes_l3;
  double bytes_wire = 0;
  std::uint64_t samples = 0;
  std::uint64_t flows = 0;

  void add(const FlowRecord& r);
};

// The direction a flow was sampled in: ingress or egress when all its
// samples agree, unknown otherwise.
Direction sampled_direction(const FlowRecord& r);

namespace group_by {
GroupFn workload_pair();           // src and dst identity
GroupFn workload_pair_protocol();  // ... and the IP protocol
GroupFn protocol();
GroupFn direction();
}  // namespace group_by

class Aggregator {
 public:
  Aggregator(IdentityFn identity, GroupFn group);

  void add(const FlowKey& key, const FlowRecord& record);
  void add(const FlowSnapshot& snapshot);
  void clear() { groups_.clear(); }

  const std::map<GroupKey, GroupTotals>& groups() const { return groups_; }

 private:
  IdentityFn identity_;
  GroupFn group_;
  std::map<GroupKey, GroupTotals> groups_;
};

}  // namespace netring::flow
