// Run by unit_skip_policy_test: a skip that
// tests/testing/skip_policy.cpp allows on no kernel must fail the binary.
#include <gtest/gtest.h>

TEST(SkipPolicyProbe, SkipsWithoutAllowedReason) {
  GTEST_SKIP() << "no reason";
}
