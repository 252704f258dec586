// The agent's heap policy: large arrays of a publication are mapped afresh
// each round, small ones kept for the next, and prefault_spare() populates a
// new one in a single call instead of a page fault per page when it is filled. Counted with the thread's own
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

// The once-a-second arrays are kept for the next round while small, freed
// after use when large, and a kept one much larger than a round needs is
// given back before it is filled again.
TEST(Heap, SmallWorkingArraysAreKeptAndLargeOnesFreed) {
  std::vector<std::uint64_t> small;
  reserve_reused(small, 10000);  // 80 KB
  const std::uint64_t* buffer = small.data();
  small.resize(10000, 1);
  release_if_large(small);
  EXPECT_TRUE(small.empty());
  EXPECT_EQ(small.capacity(), 10000u) << "kept for the next round";
  reserve_reused(small, 9000);
  EXPECT_EQ(small.data(), buffer) << "the same buffer serves again";
  EXPECT_TRUE(small.empty());

  std::vector<std::uint64_t> large;
  reserve_reused(large, kKeptArrayBytes / sizeof(std::uint64_t) + 1);
  large.resize(large.capacity(), 1);
  release_if_large(large);
  EXPECT_EQ(large.capacity(), 0u) << "freed after use";

  reserve_reused(small, 10);
  EXPECT_LT(small.capacity(), 10000u) << "a round of 10 does not keep room for 10000";
  EXPECT_GE(small.capacity(), 10u);
}

}  // namespace
}  // namespace netring::agent
