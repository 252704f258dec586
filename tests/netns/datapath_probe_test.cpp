// The feature probe, against what this kernel and these privileges allow.
#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <cstdio>

#include "pkg/datapath/probe.hpp"

namespace {

bool kernel_at_least(int major, int minor) {
  utsname u{};
  if (::uname(&u) != 0) return false;
  int ma = 0, mi = 0;
  if (std::sscanf(u.release, "%d.%d", &ma, &mi) != 2) return false;
  return ma > major || (ma == major && mi >= minor);
}

TEST(Probe, FindsWhatARootProcessOnThisKernelHas) {
  auto f = netring::datapath::probe_features();
  // The netns tests run as root with CAP_BPF/CAP_NET_ADMIN/CAP_NET_RAW.
  EXPECT_TRUE(f.bpf_loading) << f.bpf_error;
  EXPECT_TRUE(f.bpf_error.empty());
  EXPECT_EQ(f.tcx, kernel_at_least(6, 6));
  EXPECT_TRUE(f.af_xdp) << f.af_xdp_error;
}

}  // namespace

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "pkg/datapath/datapath.hpp"
#include "tests/testing/netns.hpp"

namespace {

// Drops capabilities from this (single-threaded, forked) process's
// effective set, the way an agent without BPF rights would run.
bool drop_caps(std::initializer_list<int> caps) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &hdr, data) != 0) return false;
  for (int c : caps) data[c / 32].effective &= ~(1U << (c % 32));
  return ::syscall(SYS_capset, &hdr, data) == 0;
}

// Runs fn in a forked child of `ns` without `caps` in its effective set;
// returns what it wrote.
std::string in_child_without(const netring::testing::Netns& ns, std::initializer_list<int> caps, std::string (*fn)()) {
  int p[2];
  if (::pipe(p) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    const std::string path = "/run/netns/" + ns.name();
    const int nsfd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0 || ::setns(nsfd, CLONE_NEWNET) != 0) ::_exit(2);
    if (!drop_caps(caps)) ::_exit(3);
    const std::string out = fn();
    if (::write(p[1], out.data(), out.size()) < 0) ::_exit(4);
    ::_exit(0);
  }
  ::close(p[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(p[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return "child failed: " + std::to_string(WEXITSTATUS(st));
  return out;
}

TEST(Probe, WithoutCapBpfTheLadderFallsToDirectCapture) {
  netring::testing::Netns ns("pc");
  const std::string out = in_child_without(ns, {CAP_BPF, CAP_SYS_ADMIN, CAP_PERFMON}, [] {
    auto f = netring::datapath::probe_features();
    std::string r = f.bpf_loading ? "bpf=yes;" : "bpf=no;" + f.bpf_error + ";";
    auto d = netring::datapath::Datapath::create({});
    if (!d) return r + "create failed: " + d.error().message();
    r += std::string("rung=") + netring::datapath::to_string((*d)->rung()) + ";";
    for (const auto& s : (*d)->ladder()) r += s.reason + ";";
    return r;
  });
  EXPECT_NE(out.find("bpf=no;"), std::string::npos) << out;
  EXPECT_NE(out.find("CAP_BPF"), std::string::npos) << "the error should name the capability: " << out;
  EXPECT_NE(out.find(std::string("rung=") + netring::datapath::to_string(netring::datapath::Rung::kAfPacketDirect)),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("BPF programs cannot be loaded"), std::string::npos) << out;
}

// The ladder's record after the data path tried to open its highest rung.
std::string ladder_after_open() {
  auto d = netring::datapath::Datapath::create({});
  if (!d) return "create failed: " + d.error().message();
  auto s = (*d)->open_sources();
  std::string r = s ? "open=ok;" : "open=failed: " + s.error().message() + ";";
  r += std::string("rung=") + netring::datapath::to_string((*d)->rung()) + ";";
  for (const auto& st : (*d)->ladder()) r += st.reason + ";";
  return r;
}

// With CAP_BPF but not CAP_PERFMON the verifier rejects xsk_redirect's
// packet pointer arithmetic: the AF_XDP rung is passed over, and the
// reason on record names the capability.
TEST(Probe, WithoutCapPerfmonTheAfXdpRungNamesIt) {
  netring::testing::Netns ns("pp");
  const std::string out = in_child_without(ns, {CAP_PERFMON, CAP_SYS_ADMIN}, ladder_after_open);
  EXPECT_NE(out.find("open=ok;"), std::string::npos) << out;
  EXPECT_NE(out.find(std::string("rung=") + netring::datapath::to_string(netring::datapath::Rung::kAfPacketMirror)),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("AF_XDP capture failed"), std::string::npos) << out;
  EXPECT_NE(out.find("CAP_PERFMON"), std::string::npos) << "the reason should name the capability: " << out;
}

// Without CAP_IPC_LOCK the UMEM is charged to RLIMIT_MEMLOCK; with a limit
// too small for it the AF_XDP rung is passed over and the reason says how
// to fix it.
TEST(Probe, WithoutCapIpcLockASmallMemlockLimitIsNamed) {
  netring::testing::Netns ns("pm");
  const std::string out = in_child_without(ns, {CAP_IPC_LOCK, CAP_SYS_RESOURCE}, [] {
    const rlimit small{64 * 1024, 64 * 1024};
    if (::setrlimit(RLIMIT_MEMLOCK, &small) != 0) return std::string("setrlimit failed");
    return ladder_after_open();
  });
  EXPECT_NE(out.find("open=ok;"), std::string::npos) << out;
  EXPECT_NE(out.find(std::string("rung=") + netring::datapath::to_string(netring::datapath::Rung::kAfPacketMirror)),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("RLIMIT_MEMLOCK"), std::string::npos) << out;
  EXPECT_NE(out.find("CAP_IPC_LOCK"), std::string::npos) << out;
}

}  // namespace
