// The wall-clock offset of flow times stays put under read jitter and
// follows real clock steps.
#include <gtest/gtest.h>

#include "agent/wall_clock_offset.hpp"

namespace netring::agent {
namespace {

TEST(WallClockOffset, FirstReadingIsTaken) {
  WallClockOffset o;
  EXPECT_EQ(o.update(1'700'000'000'000'000'000), 1'700'000'000'000'000'000);
}

TEST(WallClockOffset, ReadJitterDoesNotMoveIt) {
  WallClockOffset o;
  const std::int64_t base = 1'700'000'000'123'456'789;
  o.update(base);
  for (std::int64_t jitter : {-10, 25, -40, 999'999, -1'000'000}) EXPECT_EQ(o.update(base + jitter), base) << jitter;
}

TEST(WallClockOffset, AClockStepIsFollowed) {
  WallClockOffset o;
  const std::int64_t base = 1'700'000'000'000'000'000;
  o.update(base);
  EXPECT_EQ(o.update(base + 2'000'000'000), base + 2'000'000'000);  // stepped 2 s forward
  EXPECT_EQ(o.update(base - 5'000'000), base - 5'000'000);          // and back
  EXPECT_EQ(o.update(base - 5'000'010), base - 5'000'000);          // steady again
}

std::int64_t now(clockid_t c) {
  timespec ts{};
  clock_gettime(c, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Whatever the scheduler does between its reads, the offset read lies
// within what reads around it allow (a realtime clock not stepped meanwhile).
TEST(WallClockOffset, ReadLiesWithinTheReadsAroundIt) {
  for (int i = 0; i < 1000; ++i) {
    const std::int64_t m0 = now(CLOCK_MONOTONIC), r0 = now(CLOCK_REALTIME);
    const std::int64_t x = WallClockOffset::read();
    const std::int64_t r1 = now(CLOCK_REALTIME), m1 = now(CLOCK_MONOTONIC);
    EXPECT_GE(x, r0 - m1);
    EXPECT_LE(x, r1 - m0);
  }
}

}  // namespace
}  // namespace netring::agent
