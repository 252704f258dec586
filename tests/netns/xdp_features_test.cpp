// Run-time probes against the running kernel and a real veth. The
// expectations follow the kernel's version, so the same test holds on an
// older kernel.
#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <cstdio>

#include "pkg/xdp/features.hpp"
#include "pkg/xdp/redirect_program.hpp"
#include "tests/testing/netns.hpp"

namespace {

using namespace netring::xdp;
using netring::testing::Netns;
using netring::testing::VethPair;

std::pair<int, int> kernel_version() {
  utsname u{};
  uname(&u);
  int major = 0, minor = 0;
  std::sscanf(u.release, "%d.%d", &major, &minor);
  return {major, minor};
}
bool at_least(int major, int minor) {
  return kernel_version() >= std::make_pair(major, minor);
}

TEST(XdpFeatures, KernelProbesMatchTheKernelVersion) {
  Netns n("fk");
  auto f = n.within([] { return probe_kernel_features(); });
  ASSERT_TRUE(f.af_xdp) << f.af_xdp_error;
  EXPECT_EQ(f.need_wakeup, at_least(5, 4));
  EXPECT_EQ(f.multi_buffer, at_least(6, 6));
  EXPECT_EQ(f.tx_metadata_len, at_least(6, 11));
}

TEST(XdpFeatures, VethDriverFeaturesOverGenericNetlink) {
  Netns a("fa"), b("fb");
  VethPair veth(a, b);
  auto f = b.within([&] { return driver_xdp_features(static_cast<std::uint32_t>(veth.ifindex_b())); });
  ASSERT_TRUE(f) << f.error().message();
  if (!at_least(6, 3)) {
    EXPECT_FALSE(f->known);
    return;
  }
  ASSERT_TRUE(f->known);
  EXPECT_TRUE(f->native()) << f->describe();
  EXPECT_TRUE(f->redirect()) << f->describe();
  EXPECT_FALSE(f->zero_copy()) << f->describe();
  EXPECT_TRUE(f->rx_sg()) << f->describe();
  // Loopback has no driver XDP at all.
  auto lo = b.within([] { return driver_xdp_features(1); });
  ASSERT_TRUE(lo) << lo.error().message();
  EXPECT_FALSE(lo->native()) << lo->describe();
}

}  // namespace
