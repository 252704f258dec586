#include "pkg/flow/snapshot.hpp"

namespace netring::flow {

void FlowSnapshot::add(const FlowKey& key, const FlowRecord& record) {
  flows_[key].merge(record);
}

void FlowSnapshot::add(const FlowTable& table) {
  flows_.reserve(flows_.size() + table.size());
  table.for_each([this](const FlowEntry& e) { add(e.key, e.record); });
}

void FlowSnapshot::add(const FlowSnapshot& other) {
  for (const auto& [k, r] : other.flows_) add(k, r);
}

const FlowRecord* FlowSnapshot::find(const FlowKey& key) const {
  auto it = flows_.find(key);
  return it == flows_.end() ? nullptr : &it->second;
}

FlowSnapshot merge(const FlowTable& a, const FlowTable& b) {
  FlowSnapshot s;
  s.add(a);
  s.add(b);
  return s;
}

}  // namespace netring::flow
