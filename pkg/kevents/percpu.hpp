// Sums of per-CPU array values (u64 per CPU) as user space reads them.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstdint>
#include <vector>

#include "pkg/common/error.hpp"

namespace netring::kevents {

// Sum over possible CPUs of entries [0, n) of a PERCPU_ARRAY of u64.
inline Result<std::vector<std::uint64_t>> percpu_sums(int map_fd, std::uint32_t n, const char* what) {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return Error("libbpf_num_possible_cpus", -cpus, what);
  std::vector<std::uint64_t> per(static_cast<std::size_t>(cpus)), out(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    if (bpf_map_lookup_elem(map_fd, &i, per.data()) != 0) return Error::from_errno("bpf_map_lookup_elem", what);
    for (auto v : per) out[i] += v;
  }
  return out;
}

// Every possible CPU's copy of entry `key` of a PERCPU_ARRAY whose value is
// a T, in one lookup. The kernel hands each CPU's value over in a slot
// rounded up to 8 bytes, hence T's size must be a multiple of 8.
template <class T>
Result<std::vector<T>> percpu_entries(int map_fd, std::uint32_t key, const char* what) {
  static_assert(sizeof(T) % 8 == 0, "per-CPU values are copied in 8-byte aligned slots");
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return Error("libbpf_num_possible_cpus", -cpus, what);
  std::vector<T> per(static_cast<std::size_t>(cpus));
  if (bpf_map_lookup_elem(map_fd, &key, per.data()) != 0) return Error::from_errno("bpf_map_lookup_elem", what);
  return per;
}

}  // namespace netring::kevents
