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

}  // namespace
}  // namespace netring::agent
