#include "pkg/kevents/swapped_maps.hpp"

#include <bpf/bpf.h>

#include <cerrno>
#include <string>

namespace netring::kevents {

SwappedMaps::SwappedMaps(int slots_fd, int map0_fd, int map1_fd, std::uint32_t key_size, std::uint32_t value_size,
                         std::uint32_t batch)
    : slots_fd_(slots_fd),
      maps_{map0_fd, map1_fd},
      key_size_(key_size),
      value_size_(value_size),
      batch_(batch == 0 ? 1 : batch) {}

Result<std::size_t> SwappedMaps::drain(const std::function<void(const void*, const void*)>& f) {
  // Which map is in the slot: asked each time (a lookup in a map-in-map
  // gives the inner map's id), so a second drainer cannot swap the wrong way.
  const std::uint32_t zero = 0;
  std::uint32_t in_slot = 0;
  if (bpf_map_lookup_elem(slots_fd_, &zero, &in_slot) != 0)
    return Error::from_errno("bpf_map_lookup_elem", "kernel event map slot");
  int active = 0;
  for (int i = 0; i < 2; ++i) {
    bpf_map_info info{};
    std::uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(maps_[i], &info, &len) != 0)
      return Error::from_errno("bpf_obj_get_info_by_fd", "kernel event map");
    if (info.id == in_slot) active = i;
  }
  const std::uint32_t next_fd = static_cast<std::uint32_t>(maps_[1 - active]);
  if (bpf_map_update_elem(slots_fd_, &zero, &next_fd, BPF_ANY) != 0)
    return Error::from_errno("bpf_map_update_elem", "kernel event map swap");
  const int taken = maps_[active];

  std::size_t total = 0;
  std::uint64_t in_token = 0, out_token = 0;  // a bucket index for hash maps
  bool first = true;
  for (;;) {
    keys_.resize(static_cast<std::size_t>(batch_) * key_size_);
    values_.resize(static_cast<std::size_t>(batch_) * value_size_);
    std::uint32_t count = batch_;
    const int err = bpf_map_lookup_and_delete_batch(taken, first ? nullptr : &in_token, &out_token, keys_.data(),
                                                    values_.data(), &count, nullptr);
    const int e = err != 0 ? errno : 0;
    if (err != 0 && e == ENOSPC && count == 0) {
      batch_ *= 2;  // one bucket holds more than the buffer: grow, retry it
      continue;
    }
    // Entries a failing call returns were deleted all the same: hand them
    // over before the error (a bucket whose lock gave up, 6.15+, is left
    // in the map for the drain after next). Not after EFAULT: the kernel
    // then leaves count as we passed it.
    if (err != 0 && e == EFAULT) count = 0;
    for (std::uint32_t i = 0; i < count; ++i)
      f(keys_.data() + static_cast<std::size_t>(i) * key_size_,
        values_.data() + static_cast<std::size_t>(i) * value_size_);
    total += count;
    if (err != 0 && e != ENOENT) return Error("bpf_map_lookup_and_delete_batch", e, "kernel event map");
    if (err != 0) break;  // ENOENT: that was the last batch
    in_token = out_token;
    first = false;
  }
  return total;
}

}  // namespace netring::kevents
