// Estimates from samples, with their uncertainty (sFlow-style scaling).
//
// A sample picked with probability p carries weight w = 1/p. The
// Horvitz-Thompson estimate of a total is sum(w_i * x_i) over the samples;
// with independent per-packet draws (what the BPF sampler does: one random
// number per skb), an unbiased estimate of its variance is
// sum((1 - p_i) / p_i^2 * x_i^2) = sum((w_i^2 - w_i) * x_i^2). Both are sums,
// so they add across samples, flows, workers and aggregation groups; the
// 99% interval is the normal one, value +- 2.576 standard errors, clamped
// at 0. Samples of p = 1 add nothing to the variance: they are exact.
//
// Reconciliation: the sampler also counts every packet and byte per
// interface and direction, exactly. Summing the samples' weighted bytes per
// interface the same way and dividing by the exact count gives the coverage
// ratio: about 1 (within its interval) when every sample reached the flow
// table; below 1 by the fraction of samples lost on the way (clone failures,
// ring overruns, user-space drops).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "pkg/flow/record.hpp"

namespace netring::flow {

constexpr double kZ99 = 2.5758293035489004;  // two-sided 99% normal quantile

struct Interval {
  double lo = 0;
  double hi = 0;
  bool contains(double x) const { return lo <= x && x <= hi; }
};

struct Estimate {
  double value = 0;
  double variance = 0;

  double std_error() const { return variance > 0 ? std::sqrt(variance) : 0.0; }
  Interval interval(double z = kZ99) const;
  Estimate& operator+=(const Estimate& o) {
    value += o.value;
    variance += o.variance;
    return *this;
  }
};

// The running sums for one total.
class HorvitzThompson {
 public:
  void add(double weight, double x) {
    value_ += weight * x;
    variance_ += (weight * weight - weight) * x * x;
  }
  void merge(const HorvitzThompson& o) {
    value_ += o.value_;
    variance_ += o.variance_;
  }
  Estimate estimate() const { return {value_, variance_}; }

 private:
  double value_ = 0;
  double variance_ = 0;
};

Estimate estimate_packets(const FlowRecord& r);
// The Horvitz-Thompson sums of the record as they are (they add across
// records and groups).
Estimate estimate_bytes_l3(const FlowRecord& r);

// What no sample shows. The variance above is estimated from the samples
// alone, so a kind of packet that was picked with p < 1 and of which no
// sample arrived adds nothing to it: a TCP flow of 45-segment TSO skbs (p = 1
// at 1:10) with a few small skbs around its start and end (p = segs / 10)
// reports a zero-width interval, and misses their bytes most of the time.
// The sampler bounds what such packets can hide: an skb of x bytes and segs
// segments is picked with p = segs / N, so it stands for x / p = N * x / segs
// <= N * M bytes of estimate, M the largest L3 bytes per segment of the flow.
// Unseen skbs that together would have been picked lambda times on average
// hold at most lambda * N * M bytes, and all stay unseen with probability
// exp(-lambda): under 1% beyond lambda = ln 100. So the flow's interval adds
// the variance (ln 100 / z99)^2 * (N * M)^2, whose 99% half-width alone is
// ln(100) * N * M (about 4.6 N M: 690 kB at 1:100 on a 1500-byte MTU; 0.07%
// of a 1 GB flow, the whole interval of a flow seen in one sample). At N = 1
// nothing is unseen and the term is 0: the interval stays exact. M is taken
// from the flow's own samples (FlowRecord::max_seg_len), so a flow of small
// packets (ACKs, DNS) gets a small term. It belongs to one flow's interval
// (the API's bytes_ci99); group sums (Aggregator) keep the plain sums.
constexpr double kLn100 = 4.605170185988092;
constexpr double kUnseenVarianceFactor = (kLn100 / kZ99) * (kLn100 / kZ99);
double unseen_variance(std::uint32_t rate, std::uint32_t max_seg_len);
Estimate estimate_bytes_l3(const FlowRecord& r, std::uint32_t rate);

// The sampler's exact counters for one interface and direction.
struct ExactCounters {
  std::uint32_t ifindex = 0;
  Direction direction = Direction::kUnknown;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;  // wire bytes, as the sampler counts them (if_counters wire_bytes)
};

struct Coverage {
  std::uint32_t ifindex = 0;
  Direction direction = Direction::kUnknown;
  Estimate packets;  // from samples
  Estimate bytes;    // from samples, L2
  std::uint64_t exact_packets = 0;
  std::uint64_t exact_bytes = 0;
  double byte_ratio = 0;  // estimated / exact bytes; 0 when nothing was counted
  Interval byte_ratio_interval;
};

// Per-interface sample totals, kept by the capture worker beside its flow
// table: a fixed array (no allocation per sample), linear probing on
// (ifindex, direction). Interfaces beyond capacity are counted, not kept.
class InterfaceEstimator {
 public:
  static constexpr std::size_t kCapacity = 1024;

  void add(const SampleInfo& s);
  void merge(const InterfaceEstimator& o);
  std::vector<Coverage> reconcile(std::span<const ExactCounters> exact) const;
  std::uint64_t overflow_samples() const { return overflow_; }

 private:
  struct Slot {
    std::uint32_t ifindex = 0;
    Direction direction = Direction::kUnknown;
    bool used = false;
    HorvitzThompson packets;
    HorvitzThompson bytes;
  };
  Slot* slot(std::uint32_t ifindex, Direction d, bool create);
  const Slot* slot(std::uint32_t ifindex, Direction d) const;

  std::vector<Slot> slots_ = std::vector<Slot>(kCapacity);  // allocated once
  std::uint64_t overflow_ = 0;
};

}  // namespace netring::flow
