#include "agent/heap.hpp"

#include <malloc.h>

namespace netring::agent {

void configure_heap() {
  (void)::mallopt(M_ARENA_MAX, 2);
  // Setting it at all disables the dynamic threshold; 256 KiB keeps the
  // small, frequent allocations (strings, JSON, map nodes) in the arenas.
  (void)::mallopt(M_MMAP_THRESHOLD, 256 * 1024);
}

void release_free_heap() {
  (void)::malloc_trim(0);
}

}  // namespace netring::agent
