// A merged, read-only copy of flow tables, for readers (metrics, the API).
//
// Flow tables belong to their capture workers and are never locked; a worker
// copies its table into a snapshot between batches (add()), and snapshots of
// several workers merge into one. The same flow seen by two workers (RSS
// spreads a flow's two directions, or a rehash moved it) becomes one record:
// sums and variances add, first/last seen widen, flags and interfaces unite.
#pragma once

#include <cstddef>
#include <unordered_map>

#include "pkg/flow/key.hpp"
#include "pkg/flow/record.hpp"
#include "pkg/flow/table.hpp"

namespace netring::flow {

class FlowSnapshot {
 public:
  void add(const FlowKey& key, const FlowRecord& record);
  void add(const FlowTable& table);
  void add(const FlowSnapshot& other);

  const FlowRecord* find(const FlowKey& key) const;
  std::size_t size() const { return flows_.size(); }
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [k, r] : flows_) f(k, r);
  }

 private:
  std::unordered_map<FlowKey, FlowRecord, FlowKeyHash> flows_;
};

FlowSnapshot merge(const FlowTable& a, const FlowTable& b);

}  // namespace netring::flow
