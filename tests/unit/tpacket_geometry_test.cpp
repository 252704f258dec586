// TPACKET_V3 ring geometry rules and the shrink-on-ENOMEM policy (the
// allocation itself is a callable here; the real setsockopt path is covered
// by the netns capture tests).
#include <gtest/gtest.h>

#include <unistd.h>

#include <string>
#include <vector>

#include "pkg/packet/tpacket_ring.hpp"

namespace {

using netring::packet::allocate_shrinking;
using netring::packet::RingGeometry;
using netring::packet::shrink;
using netring::packet::validate;

std::string why(const RingGeometry& g) {
  auto r = validate(g);
  return r.ok() ? std::string("ok") : r.error().message();
}

TEST(TpacketGeometry, DefaultsAreValid) {
  EXPECT_EQ(why(RingGeometry{}), "ok");
}

TEST(TpacketGeometry, RejectsWithTheRuleBroken) {
  EXPECT_NE(why({.block_size = 3 * 4096}).find("power of two"), std::string::npos);
  EXPECT_NE(why({.block_size = 1024, .frame_size = 512}).find("page size"), std::string::npos);
  EXPECT_NE(why({.block_count = 0}).find("block count is 0"), std::string::npos);
  EXPECT_NE(why({.frame_size = 32}).find("smaller than the packet header"), std::string::npos);
  EXPECT_NE(why({.frame_size = 2050}).find("multiple of 16"), std::string::npos);
  EXPECT_NE(why({.block_size = 4096, .frame_size = 8192}).find("exceeds the block size"), std::string::npos);
  EXPECT_NE(why({.block_size = 1U << 30, .block_count = 8}).find("4 GiB"), std::string::npos);
}

TEST(TpacketGeometry, ShrinksCountThenSizeThenGivesUp) {
  const auto page = static_cast<std::uint32_t>(::sysconf(_SC_PAGESIZE));
  RingGeometry g{.block_size = 4 * page, .block_count = 8, .frame_size = 2048};
  std::vector<std::pair<std::uint32_t, std::uint32_t>> steps;
  while (auto s = shrink(g)) {
    g = *s;
    steps.emplace_back(g.block_count, g.block_size);
    ASSERT_EQ(why(g), "ok");
  }
  const std::vector<std::pair<std::uint32_t, std::uint32_t>> want = {
      {4, 4 * page}, {2, 4 * page}, {2, 2 * page}, {2, page}};
  EXPECT_EQ(steps, want);
}

TEST(TpacketGeometry, AllocateRetriesOnlyOnEnomemAndLogs) {
  std::vector<std::string> lines;
  auto sink = [&](std::string_view l) { lines.emplace_back(l); };
  // Succeeds once the ring is at most 4 blocks.
  auto got = allocate_shrinking(
      RingGeometry{.block_count = 16}, [](const RingGeometry& g) { return g.block_count <= 4 ? 0 : ENOMEM; }, sink,
      "eth9");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->block_count, 4u);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("ENOMEM"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("eth9"), std::string::npos) << lines[0];

  lines.clear();
  auto other = allocate_shrinking(
      RingGeometry{}, [](const RingGeometry&) { return EINVAL; }, sink, "eth9");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code(), EINVAL);
  EXPECT_TRUE(lines.empty()) << "EINVAL is not retried";

  auto never = allocate_shrinking(
      RingGeometry{}, [](const RingGeometry&) { return ENOMEM; }, sink, "eth9");
  ASSERT_FALSE(never.ok());
  EXPECT_NE(never.error().message().find("no smaller ring"), std::string::npos) << never.error().message();
}

}  // namespace
