#include "pkg/kflow/flow_count_reader.hpp"

#include <bpf/bpf.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace netring::kflow {
namespace {

std::uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

Result<bpf_map_info> map_info(int fd) {
  bpf_map_info info{};
  std::uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
    return Error::from_errno("bpf_obj_get_info_by_fd", "flow count map");
  return info;
}

}  // namespace

std::uint32_t flow_map_capacity(std::uint64_t flows, std::uint32_t capacity, const FlowMapSizing& s) {
  std::uint64_t want = flows >= capacity ? std::uint64_t{capacity} * 4 : flows + flows / 4 + 1;
  std::uint64_t cap = 1;
  while (cap < want && cap < s.max_entries) cap <<= 1;
  return static_cast<std::uint32_t>(std::clamp<std::uint64_t>(cap, s.min_entries, s.max_entries));
}

FlowCountReader::FlowCountReader(int flow_maps_fd, int map0_fd, int map1_fd, FlowMapSizing sizing, std::uint32_t batch)
    : slots_fd_(flow_maps_fd), maps_{map0_fd, map1_fd}, sizing_(sizing), batch_(batch == 0 ? 1 : batch) {
  if (sizing_.max_entries < sizing_.min_entries) sizing_.max_entries = sizing_.min_entries;
}

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
    auto info = map_info(maps_[i]);
    if (!info) return info.error();
    if (info->id == in_slot) active_ = i;
    stats_.capacity[i] = info->max_entries;
  }
  const int next = 1 - active_;
  const std::uint32_t fd = static_cast<std::uint32_t>(maps_[next]);
  // The kernel waits for running programs (synchronize_rcu) before this
  // returns: from here on nothing writes the map taken out.
  if (bpf_map_update_elem(slots_fd_, &zero, &fd, BPF_ANY) != 0)
    return Error::from_errno("bpf_map_update_elem", "flow count map swap");
  const int taken = active_;
  active_ = next;
  auto n = empty_into(maps_[taken], out);
  if (!n) return n;
  // A map that could not be replaced keeps serving at its size: the flows
  // read above are the caller's either way.
  if (sizing_.min_entries != 0)
    if (auto r = resize(taken, *n); !r) {
      ++stats_.resize_errors;
      stats_.last_resize_error = r.error().message();
    }
  ++stats_.drains;
  stats_.flows += *n;
  stats_.last_flows = *n;
  stats_.last_drain_ns = monotonic_ns() - t0;
  return n;
}

Result<void> FlowCountReader::resize(int i, std::uint64_t flows) {
  const std::uint32_t have = stats_.capacity[i];
  const std::uint32_t want = flow_map_capacity(flows, have, sizing_);
  under_used_[i] = flows * 4 <= have ? under_used_[i] + 1 : 0;
  // Grown at once: its overflow was estimated. Shrunk only when it has
  // been too large for a while: a lull between bursts keeps its size.
  const bool grow = want > have;
  const bool shrink = want < have && under_used_[i] >= sizing_.shrink_after;
  if (!grow && !shrink) return ok();
  auto info = map_info(maps_[i]);
  if (!info) return info.error();
  LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = info->map_flags);
  // With the old map's BTF: 6.1 compares an inner map with the slot's
  // template by timer offset too, which is -ENOENT for a map made with BTF
  // (no timer found in it) and -EINVAL for one made without, so a map
  // without BTF is refused (EINVAL) in a slot the object's loader made.
  UniqueFd btf;
  if (info->btf_id != 0) {
    btf.reset(bpf_btf_get_fd_by_id(info->btf_id));
    if (!btf) return Error::from_errno("bpf_btf_get_fd_by_id", "flow count map");
    opts.btf_fd = static_cast<__u32>(btf.get());
    opts.btf_key_type_id = info->btf_key_type_id;
    opts.btf_value_type_id = info->btf_value_type_id;
  }
  const int fd =
      bpf_map_create(static_cast<bpf_map_type>(info->type), info->name, info->key_size, info->value_size, want, &opts);
  if (fd < 0)
    return Error(std::string("bpf_map_create"), -fd, "flow count map of " + std::to_string(want) + " entries");
  // Not in the slot (drain() just took it out, and the kernel waited for
  // the programs that held it): closing the old map frees it.
  owned_[i].reset(fd);
  maps_[i] = fd;
  stats_.capacity[i] = want;
  under_used_[i] = 0;
  ++stats_.resizes;
  return ok();
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
