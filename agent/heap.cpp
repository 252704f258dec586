#include "agent/heap.hpp"

#include <malloc.h>
#include <sys/mman.h>

#include <cstdint>

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

void prefault(void* p, std::size_t bytes) {
  constexpr std::size_t kMin = 64 * 1024;
  if (bytes < kMin) return;
  const std::uintptr_t page = 4096;
  const std::uintptr_t begin = (reinterpret_cast<std::uintptr_t>(p) + page - 1) & ~(page - 1);
  const std::uintptr_t end = (reinterpret_cast<std::uintptr_t>(p) + bytes) & ~(page - 1);
  if (end <= begin) return;
  // EINVAL before 5.14: harmless, the pages fault in when first written.
  (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
}

}  // namespace netring::agent
