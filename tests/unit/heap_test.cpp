// The agent's heap policy: arrays of a publication are mapped afresh each
// round, and prefault_spare() populates one in a single call instead of a
// page fault per page when it is filled. Counted with the thread's own
// minor-fault counter (getrusage RUSAGE_THREAD).
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdint>
#include <vector>

#include "agent/heap.hpp"

namespace netring::agent {
namespace {

long minor_faults() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_minflt;
}

// Page faults taken while a fresh 4 MiB array is filled, with or without
// prefault_spare() after its reserve.
long faults_filling(bool prefaulted) {
  constexpr std::size_t kBytes = 4 << 20;
  std::vector<std::uint64_t> v;
  v.reserve(kBytes / sizeof(std::uint64_t));  // mapped on its own (the policy's threshold is 256 KiB)
  if (prefaulted) prefault_spare(v);
  const long before = minor_faults();
  v.resize(v.capacity(), 1);
  const long taken = minor_faults() - before;
  EXPECT_EQ(v.back(), 1u);
  return taken;
}

TEST(Heap, APrefaultedArrayIsFilledWithoutAPageFaultPerPage) {
  configure_heap();
  const long plain = faults_filling(false);
  const long prefaulted = faults_filling(true);
  // 1024 pages of 4 KiB: a fault for each without it (where the kernel maps
  // anonymous memory with huge pages, THP "always", there would be a few).
  EXPECT_LE(prefaulted, 8) << "plain fill: " << plain << " faults";
  EXPECT_GT(plain, prefaulted);
}

}  // namespace
}  // namespace netring::agent
