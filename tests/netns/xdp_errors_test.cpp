// Every builder/loader error, each provoked for real: bad arguments are
// refused before the kernel is asked; EPERM and ENOBUFS come from the
// kernel itself in a forked child that dropped the capability.
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <initializer_list>
#include <string>

#include "pkg/xdp/builder.hpp"
#include "pkg/xdp/features.hpp"
#include "pkg/xdp/redirect_program.hpp"
#include "tests/testing/capabilities.hpp"
#include "tests/testing/netns.hpp"

namespace {

using namespace netring;
using namespace netring::xdp;
using netring::testing::Netns;
using netring::testing::VethOptions;
using netring::testing::VethPair;

bool contains(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

using netring::testing::drop_caps;
using netring::testing::in_child;

TEST(XdpErrors, RingSizeNotAPowerOfTwo) {
  auto s = XdpSocketBuilder().interface("lo").rx_ring(1000).build();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), EINVAL);
  EXPECT_TRUE(contains(s.error().message(), "RX ring of 1000 entries: not a power of two")) << s.error().message();
  s = XdpSocketBuilder().interface("lo").rx_ring(0).tx_ring(48).build();
  ASSERT_FALSE(s);
  EXPECT_TRUE(contains(s.error().message(), "TX ring of 48")) << s.error().message();
  s = XdpSocketBuilder().interface("lo").rx_ring(64).fill_ring(100).build();
  ASSERT_FALSE(s);
  EXPECT_TRUE(contains(s.error().message(), "fill ring of 100")) << s.error().message();
}

TEST(XdpErrors, FrameSizeOutOfRange) {
  for (std::uint32_t fs : {1024u, 8192u, 65536u}) {
    auto s = XdpSocketBuilder().interface("lo").frame_size(fs).build();
    ASSERT_FALSE(s) << fs;
    EXPECT_TRUE(contains(s.error().message(), "frame size " + std::to_string(fs) + " out of range [2048, 4096]"))
        << s.error().message();
  }
  auto s = XdpSocketBuilder().interface("lo").frame_size(3000).build();
  ASSERT_FALSE(s);
  EXPECT_TRUE(contains(s.error().message(), "not a power of two")) << s.error().message();
}

TEST(XdpErrors, UnknownInterface) {
  auto s = XdpSocketBuilder().interface("nr-nosuchif0").build();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ENODEV);
  EXPECT_TRUE(contains(s.error().message(), "nr-nosuchif0")) << s.error().message();
  EXPECT_TRUE(contains(s.error().message(), "unknown interface")) << s.error().message();
}

TEST(XdpErrors, QueueOutOfRange) {
  Netns a("ea"), b("eb");
  VethOptions vo;
  vo.queues = 2;
  VethPair veth(a, b, vo);
  auto s = b.within([&] { return XdpSocketBuilder().interface(veth.name_b()).queue(2).rx_ring(64).build(); });
  ASSERT_FALSE(s);
  EXPECT_TRUE(contains(s.error().message(), "queue out of range")) << s.error().message();
  EXPECT_TRUE(contains(s.error().message(), "has 2 RX queues")) << s.error().message();
  // Queue 1 is fine.
  auto ok = b.within([&] { return XdpSocketBuilder().interface(veth.name_b()).queue(1).rx_ring(64).build(); });
  EXPECT_TRUE(ok) << ok.error().message();
}

TEST(XdpErrors, ZeroCopyDemandedButUnsupported) {
  Netns a("za"), b("zb");
  VethPair veth(a, b);
  auto s = b.within(
      [&] { return XdpSocketBuilder().interface(veth.name_b()).rx_ring(64).mode(BindMode::kZeroCopy).build(); });
  ASSERT_FALSE(s) << "veth has no AF_XDP zero-copy";
  EXPECT_TRUE(contains(s.error().message(), "zero-copy")) << s.error().message();
  // Auto falls back to copy by itself and says so.
  auto a_s = b.within([&] { return XdpSocketBuilder().interface(veth.name_b()).rx_ring(64).build(); });
  ASSERT_TRUE(a_s) << a_s.error().message();
  EXPECT_FALSE(a_s->zero_copy());
  EXPECT_TRUE(contains(a_s->describe(), "copy mode")) << a_s->describe();
}

TEST(XdpErrors, SocketWithoutCapNetRawNamesIt) {
  const std::string r = in_child([]() -> std::string {
    if (!drop_caps({CAP_NET_RAW})) return "capset failed";
    auto s = XdpSocketBuilder().interface("lo").rx_ring(64).frame_size(2048).build();
    if (s) return "socket built without CAP_NET_RAW";
    if (s.error().code() != EPERM) return "expected EPERM: " + s.error().message();
    if (!contains(s.error().message(), "CAP_NET_RAW")) return "no capability named: " + s.error().message();
    return "";
  });
  EXPECT_EQ(r, "");
}

TEST(XdpErrors, ProgramWithoutCapBpfNamesIt) {
  const std::string r = in_child([]() -> std::string {
    if (!drop_caps({CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_PERFMON})) return "capset failed";
    auto p = RedirectProgram::attach(1 /* lo */);
    if (p) return "program loaded without CAP_BPF";
    if (p.error().code() != EPERM) return "expected EPERM: " + p.error().message();
    if (!contains(p.error().message(), "CAP_BPF") || !contains(p.error().message(), "CAP_NET_ADMIN"))
      return "no capability named: " + p.error().message();
    return "";
  });
  EXPECT_EQ(r, "");
}

TEST(XdpErrors, UmemOverMemlockLimitNamesRlimitAndCapIpcLock) {
  const std::string r = in_child([]() -> std::string {
    if (!drop_caps({CAP_IPC_LOCK})) return "capset failed";
    struct rlimit rl {
      64 * 1024, 64 * 1024
    };
    if (::setrlimit(RLIMIT_MEMLOCK, &rl) != 0) return "setrlimit failed";
    // 512 frames x 4 KiB = 2 MiB, far above 64 KiB.
    auto s = XdpSocketBuilder().interface("lo").rx_ring(256).frame_size(4096).build();
    if (s) return "UMEM registered beyond RLIMIT_MEMLOCK";
    if (s.error().code() != ENOBUFS && s.error().code() != ENOMEM) return "expected ENOBUFS: " + s.error().message();
    if (!contains(s.error().message(), "RLIMIT_MEMLOCK") || !contains(s.error().message(), "CAP_IPC_LOCK"))
      return "no limit named: " + s.error().message();
    if (!contains(s.error().message(), "XDP_UMEM_REG")) return "wrong operation: " + s.error().message();
    return "";
  });
  EXPECT_EQ(r, "");
}

TEST(XdpErrors, NativeRequiredOnAnInterfaceWithoutDriverXdp) {
  // Loopback has no ndo_bpf: native XDP is impossible there. (A fresh
  // namespace's own loopback, so nothing else is disturbed.)
  Netns n("en");
  auto p = n.within([] { return RedirectProgram::attach(::if_nametoindex("lo"), {.require_native = true}); });
  ASSERT_FALSE(p);
  EXPECT_TRUE(contains(p.error().message(), "native XDP")) << p.error().message();
  auto g = n.within([] { return RedirectProgram::attach(::if_nametoindex("lo")); });
  ASSERT_TRUE(g) << g.error().message();
  EXPECT_FALSE(g->native());
  EXPECT_FALSE(g->fallback_reason().empty());
}

TEST(XdpErrors, SharedUmemRefusesFlags) {
  UmemConfig uc;
  uc.frame_count = 256;
  auto u = Umem::create(uc);
  ASSERT_TRUE(u) << u.error().message();
  auto s = XdpSocketBuilder().interface("lo").rx_ring(64).shared_umem(*u).multi_buffer(true).build();
  ASSERT_FALSE(s);
  EXPECT_TRUE(contains(s.error().message(), "shared-UMEM")) << s.error().message();
}

}  // namespace

namespace {

std::uint64_t free_huge_pages() {
  FILE* f = std::fopen("/proc/meminfo", "r");
  if (f == nullptr) return 0;
  char line[256];
  unsigned long long n = 0;
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::sscanf(line, "HugePages_Free: %llu", &n) == 1) break;
  std::fclose(f);
  return n;
}

// Huge pages are optional: with none reserved the error says where to get
// them; with enough reserved the UMEM is created on them.
TEST(XdpErrors, HugePagesWithoutReservationNamesNrHugepages) {
  UmemConfig uc;
  uc.frame_count = 512;  // 2 MiB: one huge page
  uc.huge_pages = true;
  auto u = Umem::create(uc);
  if (free_huge_pages() >= 1) {
    EXPECT_TRUE(u) << u.error().message();
    return;
  }
  ASSERT_FALSE(u);
  EXPECT_TRUE(contains(u.error().message(), "nr_hugepages")) << u.error().message();
  EXPECT_TRUE(contains(u.error().message(), "UMEM")) << u.error().message();
}

}  // namespace
