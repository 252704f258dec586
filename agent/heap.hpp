// The agent's malloc policy. Every second the publisher builds a snapshot of
// all flows (megabytes at 100k flows) and drops the previous one; with
// glibc's defaults that churn is what the agent's RSS grew with, not its
// live data:
//  - each thread that allocates gets its own arena (up to 8 per core), and
//    memory freed in one arena serves no other;
//  - the mmap threshold rises to the size of any mmap'ed block freed (up to
//    32 MiB), so after the first round the snapshot arrays come from the
//    arenas, and the holes they leave stay resident.
#pragma once

#include <cstddef>
#include <vector>

namespace netring::agent {

// Before any thread starts: two arenas (the hot paths do not allocate, so
// there is no contention to spread), and a fixed mmap threshold, so large
// arrays are mapped and unmapped on their own and go back to the kernel
// when freed.
void configure_heap();

// After a publication: gives free pages inside the arenas back to the
// kernel (malloc_trim).
void release_free_heap();

// The once-a-second arrays (a table's copy, the snapshot's flows) are mapped
// afresh each round by that policy, and filling one took a page fault per
// 4 KiB page: under a paravirtualized guest's costly traps, most of the
// agent's system time at 10k flows. This populates the pages under
// [p, p + bytes) in one madvise(MADV_POPULATE_WRITE) call (Linux 5.14)
// instead; on an older kernel, or for a span under 64 KiB, it does nothing
// and the pages fault in as before.
void prefault(void* p, std::size_t bytes);

// prefault() for the room a vector has past its size, right after reserve().
template <class T>
void prefault_spare(std::vector<T>& v) {
  prefault(v.data() + v.size(), (v.capacity() - v.size()) * sizeof(T));
}

// The once-a-second working arrays (a worker's table copy, the metrics'
// and the API's per-flow arrays) are kept from one round to the next while
// they are small: mapping, faulting in and unmapping a fresh one every
// second, with the TLB shootdowns each unmapping sends to the CPUs the
// agent's other threads ran on, took several percent of the agent's CPU at
// 10k flows (perf), to save a few MiB.
// A large one (100k flows, where the RSS goal is) is freed after use, as
// every one was before.
inline constexpr std::size_t kKeptArrayBytes = std::size_t{2} << 20;

// After use: frees a large array, empties a small one for the next round.
template <class T>
void release_if_large(std::vector<T>& v) {
  if (v.capacity() * sizeof(T) > kKeptArrayBytes)
    std::vector<T>().swap(v);
  else
    v.clear();
}

// Before use: an empty array with room for `n`, reusing what `v` holds
// unless it is much larger than needed; new room is faulted in at once.
template <class T>
void reserve_reused(std::vector<T>& v, std::size_t n) {
  v.clear();
  if (v.capacity() > 2 * n + 1024) std::vector<T>().swap(v);
  if (v.capacity() < n) {
    v.reserve(n);
    prefault_spare(v);
  }
}

}  // namespace netring::agent
