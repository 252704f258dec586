// Which capture worker a flow belongs to: the sampler sends a flow's
// samples to mirror queue flow_key_hash(key) % queues, and the agent hands
// the flow's exact kernel counts to the worker of the same index, so both
// meet in one flow table (bpf/flow_key.h; the BPF twin is
// netring_flow_key_hash in bpf/flow_parse.h, checked against this one in
// tests/netns/flow_parse_test.cpp).
#pragma once

#include <cstdint>
#include <cstring>

#include "bpf/flow_key.h"
#include "pkg/flow/key.hpp"

namespace netring::kflow {

inline std::uint32_t flow_key_hash(const flow::FlowKey& k) {
  std::uint32_t w[12];
  std::memcpy(w, &k, sizeof w);
  std::uint32_t h = NETRING_FNV_OFFSET;
  for (std::uint32_t x : w) {
    h ^= x;
    h *= NETRING_FNV_PRIME;
  }
  return h ^ (h >> 16);
}

}  // namespace netring::kflow
