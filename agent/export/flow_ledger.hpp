// What the exporter already sent per flow, so that each record carries the
// flow's growth since the previous one (octetDeltaCount) and a collector
// summing a flow's records gets its total.
//
// Counts go out as integers: the flow's estimate rounded at every record,
// each delta the difference of two rounded totals, so the deltas of a flow
// add up to its rounded final total exactly (no drift from rounding each
// delta). A flow is (id, start): a key reused after the flow ended is
// a new flow.
//
// Entries live in one array sorted by flow, rebuilt at each active export
// (as FlowDeltaTracker does): no node per flow on the heap.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "agent/export/flow_layout.hpp"
#include "agent/model.hpp"

namespace netring::agent::exporter {

class FlowLedger {
 public:
  // The last record of a flow that ended: what was not sent yet (zero
  // deltas if everything was), with `why`.
  RecordCounts ended(const FlowView& f, ipfix::FlowEndReason why);
  // A periodic record of a live flow: nullopt when it did not grow since
  // the previous one. Call for every live flow of a snapshot (in any order):
  // flows not passed are forgotten by commit().
  std::optional<RecordCounts> active(const FlowView& f);
  // Ends an active export round: keeps the flows passed to active() since
  // the previous commit, forgets the rest.
  void commit();

  std::size_t tracked() const { return sent_.size(); }

 private:
  struct Sent {
    std::uint64_t id = 0, first_seen = 0;
    std::uint64_t octets = 0, packets = 0;
    double variance = 0;
    bool gone = false;
  };
  static bool before(const Sent& a, const Sent& b) { return a.id != b.id ? a.id < b.id : a.first_seen < b.first_seen; }
  Sent* find(const FlowView& f);
  static RecordCounts counts(const FlowView& f, Sent& s);

  std::vector<Sent> sent_;  // sorted by (id, first_seen)
  std::vector<Sent> next_;  // being built by active()
};

}  // namespace netring::agent::exporter
