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

namespace netring::agent {

// Before any thread starts: two arenas (the hot paths do not allocate, so
// there is no contention to spread), and a fixed mmap threshold, so large
// arrays are mapped and unmapped on their own and go back to the kernel
// when freed.
void configure_heap();

// After a publication: gives free pages inside the arenas back to the
// kernel (malloc_trim).
void release_free_heap();

}  // namespace netring::agent
