#include "pkg/kflow/flow_count_reader.hpp"

#include <bpf/bpf.h>
#include <time.h>

#include <cerrno>
#include <cstring>

namespace netring::kflow {
namespace {

std::uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace

FlowCountReader::FlowCountReader(int flow_maps_fd, int map0_fd, int map1_fd, std::uint32_t batch)
    : slots_fd_(flow_maps_fd), maps_{map0_fd, map1_fd}, batch_(batch == 0 ? 1 : batch) {}

Result<std::size_t> FlowCountReader::drain(std::vector<KernelFlow>& out) {
  const std::uint64_t t0 = monotonic_ns();
  // Which map is in the slot now: a lookup in a map-in-map gives the inner
  // map's id. Asked each time rather than remembered, so a second reader
  // (or one made after another drained) cannot swap the wrong way round.
  const std::uint32_t zero = 0;
  std::uint32_t in_slot = 0;
  if (bpf_map_lookup_elem(slots_fd_, &zero, &in_slot) != 0)
    return Error::from_errno("bpf_map_lookup_elem", "flow count map slot");
  for (int i = 0; i < 2; ++i) {
    bpf_map_info info{};
    std::uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(maps_[i], &info, &len) != 0)
      return Error::from_errno("bpf_obj_get_info_by_fd", "flow count map");
    if (info.id == in_slot) active_ = i;
  }
  const int next = 1 - active_;
  const std::uint32_t fd = static_cast<std::uint32_t>(maps_[next]);
  // The kernel waits for running programs (synchronize_rcu) before this
  // returns: from here on nothing writes the map taken out.
  if (bpf_map_update_elem(slots_fd_, &zero, &fd, BPF_ANY) != 0)
    return Error::from_errno("bpf_map_update_elem", "flow count map swap");
  const int taken = maps_[active_];
  active_ = next;
  auto n = empty_into(taken, out);
  if (!n) return n;
  ++stats_.drains;
  stats_.flows += *n;
  stats_.last_flows = *n;
  stats_.last_drain_ns = monotonic_ns() - t0;
  return n;
}

Result<std::size_t> FlowCountReader::empty_into(int map_fd, std::vector<KernelFlow>& out) {
  std::size_t total = 0;
  // The batch token: a bucket index for hash maps, at least 4 bytes.
  std::uint64_t in_token = 0, out_token = 0;
  bool first = true;
  for (;;) {
    if (keys_.size() < batch_) {
      keys_.resize(batch_);
      values_.resize(batch_);
    }
    std::uint32_t count = batch_;
    const int err = bpf_map_lookup_and_delete_batch(map_fd, first ? nullptr : &in_token, &out_token, keys_.data(),
                                                    values_.data(), &count, nullptr);
    const int e = err != 0 ? errno : 0;
    if (err != 0 && e == ENOSPC && count == 0) {
      // One hash bucket holds more entries than the buffer: grow and retry
      // the same bucket.
      batch_ *= 2;
      ++stats_.batch_retries;
      continue;
    }
    if (err != 0 && e != ENOENT) return Error(std::string("bpf_map_lookup_and_delete_batch"), e, "flow count map");
    for (std::uint32_t i = 0; i < count; ++i) {
      KernelFlow f;
      std::memcpy(static_cast<void*>(&f.key), &keys_[i], sizeof f.key);  // same layout (kernel_flow.hpp)
      f.counts = values_[i];
      out.push_back(f);
    }
    total += count;
    if (err != 0) break;  // ENOENT: the last batch
    in_token = out_token;
    first = false;
  }
  return total;
}

}  // namespace netring::kflow
