#include "tests/testing/skip_policy.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace {

using netring::testing::find_allowed_skip;
using netring::testing::glob_match;
using netring::testing::KernelVersion;

TEST(SkipPolicy, ParsesKernelReleases) {
  EXPECT_EQ(KernelVersion::parse("6.1.0-57-cloud-amd64"), (KernelVersion{6, 1}));
  EXPECT_EQ(KernelVersion::parse("6.18.44-fc-v1294"), (KernelVersion{6, 18}));
  EXPECT_EQ(KernelVersion::parse("5.10"), (KernelVersion{5, 10}));
  EXPECT_FALSE(KernelVersion::parse("six"));
  EXPECT_FALSE(KernelVersion::parse("6"));
  EXPECT_LT((KernelVersion{6, 1}), (KernelVersion{6, 6}));
  EXPECT_LT((KernelVersion{6, 6}), (KernelVersion{6, 18}));  // numeric, not lexical
}

TEST(SkipPolicy, GlobMatchesWholeNames) {
  EXPECT_TRUE(glob_match("*/TcxCoexistence.Ours/*", "Verdicts/TcxCoexistence.Ours/2"));
  EXPECT_FALSE(glob_match("*/TcxCoexistence.Ours/*", "Verdicts/TcxCoexistence.OursToo/2"));
  EXPECT_TRUE(glob_match("A.B", "A.B"));
  EXPECT_FALSE(glob_match("A.B", "A.BC"));
  EXPECT_TRUE(glob_match("*", ""));
}

TEST(SkipPolicy, TcxSkipsOnlyBelowItsKernel) {
  const char* test = "TcHook.TcxAttachesAtTheHeadAndDetachesCleanly";
  EXPECT_NE(find_allowed_skip(test, "kernel without tcx", {6, 1}), nullptr);
  EXPECT_EQ(find_allowed_skip(test, "kernel without tcx", {6, 6}), nullptr);
  EXPECT_EQ(find_allowed_skip(test, "kernel without tcx", {6, 18}), nullptr);
  // Another reason is not the feature the entry is about.
  EXPECT_EQ(find_allowed_skip(test, "iperf3 missing", {6, 1}), nullptr);
}

TEST(SkipPolicy, OnlyTheTcxVariantOfTheLifecycleMaySkip) {
  EXPECT_NE(find_allowed_skip("Modes/DatapathLifecycle.SigkillThenRestartThenCleanShutdown/tcx", "kernel without tcx",
                              {6, 1}),
            nullptr);
  EXPECT_EQ(find_allowed_skip("Modes/DatapathLifecycle.SigkillThenRestartThenCleanShutdown/clsact",
                              "kernel without tcx", {6, 1}),
            nullptr);
}

TEST(SkipPolicy, UnlistedTestsMustRunEverywhere) {
  EXPECT_EQ(find_allowed_skip("SamplerProg.CountsEveryPacket", "kernel without tcx", {5, 10}), nullptr);
}

// The policy at work: a binary linked with netring_gtest_main whose test
// skips without an allowed reason exits 1 and names the test.
TEST(SkipPolicy, ARefusedSkipFailsTheBinary) {
  FILE* p = ::popen(NETRING_SKIP_POLICY_PROBE " 2>&1", "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = ::pclose(p);
  ASSERT_TRUE(WIFEXITED(status)) << out;
  EXPECT_EQ(WEXITSTATUS(status), 1) << out;
  EXPECT_NE(out.find(" SkipPolicyProbe.SkipsWithoutAllowedReason NOT-ALLOWED: no reason"), std::string::npos) << out;
}

}  // namespace
