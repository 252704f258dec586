#include "agent/export/flow_ledger.hpp"

#include <algorithm>
#include <cmath>

namespace netring::agent::exporter {

namespace {

std::uint64_t rounded(double v) {
  return v > 0 ? static_cast<std::uint64_t>(std::llround(v)) : 0;
}

}  // namespace

FlowLedger::Sent* FlowLedger::find(const FlowView& f) {
  const Sent probe{.id = f.id, .first_seen = f.start_mono_ns};
  auto it = std::lower_bound(sent_.begin(), sent_.end(), probe, before);
  if (it == sent_.end() || it->id != f.id || it->first_seen != f.start_mono_ns || it->gone) return nullptr;
  return &*it;
}

RecordCounts FlowLedger::counts(const FlowView& f, Sent& s) {
  RecordCounts c;
  c.octet_total = rounded(f.bytes);
  c.packet_total = rounded(f.packets);
  // Totals never shrink in a live flow; if one did, nothing is taken back.
  c.octet_delta = c.octet_total > s.octets ? c.octet_total - s.octets : 0;
  c.packet_delta = c.packet_total > s.packets ? c.packet_total - s.packets : 0;
  const double variance = f.bytes_stderr * f.bytes_stderr;
  c.octet_delta_variance = variance > s.variance ? variance - s.variance : 0;
  const bool exact = f.bytes_stderr == 0;
  c.sampling_probability = exact || f.packets <= 0 ? 1.0 : std::min(1.0, static_cast<double>(f.samples) / f.packets);
  s.octets = std::max(s.octets, c.octet_total);
  s.packets = std::max(s.packets, c.packet_total);
  s.variance = std::max(s.variance, variance);
  return c;
}

RecordCounts FlowLedger::ended(const FlowView& f, ipfix::FlowEndReason why) {
  Sent fresh{.id = f.id, .first_seen = f.start_mono_ns};
  Sent* s = find(f);
  RecordCounts c = counts(f, s ? *s : fresh);
  if (s) s->gone = true;
  c.end_reason = why;
  return c;
}

std::optional<RecordCounts> FlowLedger::active(const FlowView& f) {
  const Sent* old = find(f);
  Sent s = old ? *old : Sent{.id = f.id, .first_seen = f.start_mono_ns};
  RecordCounts c = counts(f, s);
  next_.push_back(s);
  if (c.octet_delta == 0 && c.packet_delta == 0) return std::nullopt;
  c.end_reason = ipfix::FlowEndReason::kActiveTimeout;
  return c;
}

void FlowLedger::commit() {
  std::sort(next_.begin(), next_.end(), before);
  next_.erase(std::unique(next_.begin(), next_.end(),
                          [](const Sent& a, const Sent& b) { return a.id == b.id && a.first_seen == b.first_seen; }),
              next_.end());
  sent_.swap(next_);
  next_.clear();
}

}  // namespace netring::agent::exporter
