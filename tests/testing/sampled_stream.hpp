// A synthetic packet stream with a known truth, sampled the way the BPF
// sampler samples: one independent draw per skb with p = min(1, gso_segs / N),
// weight 1/p. Seeded: a fixed seed gives the same stream and the same samples
// on every run, so statistical tests are deterministic.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>

namespace netring::testing {

class SampledStream {
 public:
  struct Packet {
    std::uint32_t bytes;  // L2 length of the skb
    std::uint32_t segs;   // GSO segments (1 for a plain packet)
  };

  SampledStream(std::uint64_t seed, std::uint32_t one_in_n) : rng_(seed), n_(one_in_n) {}

  // A plausible mix: 40% pure ACKs, 30% full-size packets, 30% TSO bursts.
  Packet next_packet() {
    const double u = uniform();
    if (u < 0.4) return {66, 1};
    if (u < 0.7) return {1514, 1};
    const auto segs = static_cast<std::uint32_t>(2 + rng_() % 44);
    return {segs * 1448 + 66, segs};
  }

  // Whether the sampler keeps this packet, and its weight if so.
  bool sample(const Packet& p, double& weight) {
    const double prob = std::min(1.0, static_cast<double>(p.segs) / n_);
    weight = 1.0 / prob;
    return uniform() < prob;
  }

  // Fair coin / uniform in [0, 1) independent of the library's distributions
  // (whose output may differ between standard library versions).
  double uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }
  std::uint64_t raw() { return rng_(); }

 private:
  std::mt19937_64 rng_;
  std::uint32_t n_;
};

}  // namespace netring::testing
