// main() of every GoogleTest binary: GoogleTest's own, plus the skip policy
// (tests/testing/skip_policy.hpp). At the end each skipped test is printed
// as one line
//   netring-skip: <kernel release> <test> allowed|NOT-ALLOWED: <reason>
// (scripts/kernel-matrix.sh collects them per kernel), and a skip the policy
// does not allow on the running kernel fails the binary.
#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tests/testing/skip_policy.hpp"

namespace {

using netring::testing::KernelVersion;

struct Skip {
  std::string test;
  std::string reason;
  bool allowed = false;
  std::string why;
};

class SkipPolicyListener : public ::testing::EmptyTestEventListener {
 public:
  explicit SkipPolicyListener(KernelVersion kernel) : kernel_(kernel) {}

  void OnTestEnd(const ::testing::TestInfo& info) override {
    const ::testing::TestResult* r = info.result();
    if (r == nullptr || !r->Skipped()) return;
    Skip s;
    s.test = std::string(info.test_suite_name()) + "." + info.name();
    for (int i = 0; i < r->total_part_count(); ++i) {
      const auto& part = r->GetTestPartResult(i);
      if (part.skipped() && part.message() != nullptr) s.reason = part.message();
    }
    while (!s.reason.empty() && (s.reason.back() == '\n' || s.reason.back() == ' ')) s.reason.pop_back();
    if (const auto* a = netring::testing::find_allowed_skip(s.test, s.reason, kernel_)) {
      s.allowed = true;
      s.why = std::string(a->why) + "; allowed below " + a->below.str();
    }
    skips_.push_back(std::move(s));
  }

  // Printed after GoogleTest's own summary, so the lines close the output.
  bool report(const std::string& release) const {
    bool ok = true;
    for (const Skip& s : skips_) {
      std::printf("netring-skip: %s %s %s: %s%s%s\n", release.c_str(), s.test.c_str(),
                  s.allowed ? "allowed" : "NOT-ALLOWED", s.reason.c_str(), s.allowed ? " (" : "",
                  s.allowed ? (s.why + ")").c_str() : "");
      if (!s.allowed) ok = false;
    }
    if (!ok) {
      std::printf(
          "netring-skip: a test skipped that must run on kernel %s: make it run, or add the kernel feature it "
          "needs to tests/testing/skip_policy.cpp\n",
          release.c_str());
    }
    std::fflush(stdout);
    return ok;
  }

 private:
  KernelVersion kernel_;
  std::vector<Skip> skips_;
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  struct utsname u {};
  ::uname(&u);
  auto* policy = new SkipPolicyListener(KernelVersion::running());
  ::testing::UnitTest::GetInstance()->listeners().Append(policy);  // owned by GoogleTest from here
  int rc = RUN_ALL_TESTS();
  if (!policy->report(u.release) && rc == 0) rc = 1;
  return rc;
}
