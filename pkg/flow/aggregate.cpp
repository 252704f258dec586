#include "pkg/flow/aggregate.hpp"

#include <utility>

namespace netring::flow {

void GroupTotals::add(const FlowRecord& r) {
  packets += estimate_packets(r);
  bytes_l3 += estimate_bytes_l3(r);
  bytes_wire += r.bytes_wire;
  samples += r.samples;
  ++flows;
}

Direction sampled_direction(const FlowRecord& r) {
  std::uint8_t all = 0;
  for (int i = 0; i < FlowRecord::kMaxInterfaces; ++i) all |= r.directions(i);
  if (all == FlowRecord::direction_bit(Direction::kIngress)) return Direction::kIngress;
  if (all == FlowRecord::direction_bit(Direction::kEgress)) return Direction::kEgress;
  return Direction::kUnknown;
}

namespace group_by {
GroupFn workload_pair() {
  return [](const FlowRef& f) { return GroupKey{f.src_identity, f.dst_identity}; };
}
GroupFn workload_pair_protocol() {
  return [](const FlowRef& f) { return GroupKey{f.src_identity, f.dst_identity, f.key.protocol}; };
}
GroupFn protocol() {
  return [](const FlowRef& f) {
    GroupKey g;
    g.protocol = f.key.protocol;
    return g;
  };
}
GroupFn direction() {
  return [](const FlowRef& f) {
    GroupKey g;
    g.direction = sampled_direction(f.record);
    return g;
  };
}
}  // namespace group_by

Aggregator::Aggregator(IdentityFn identity, GroupFn group) : identity_(std::move(identity)), group_(std::move(group)) {}

void Aggregator::add(const FlowKey& key, const FlowRecord& record) {
  const std::string src = identity_ ? identity_(key.src) : std::string{};
  const std::string dst = identity_ ? identity_(key.dst) : std::string{};
  groups_[group_(FlowRef{key, record, src, dst})].add(record);
}

void Aggregator::add(const FlowSnapshot& snapshot) {
  snapshot.for_each([this](const FlowKey& k, const FlowRecord& r) { add(k, r); });
}

}  // namespace netring::flow
