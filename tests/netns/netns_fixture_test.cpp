// The netns/veth fixture every netns test relies on: objects appear, traffic
// flows, and everything is gone afterwards, also after a failing,
// interrupted (SIGTERM) or killed (SIGKILL) test.
#include <gtest/gtest.h>

#include <net/if.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/testing/netns.hpp"

namespace {

using netring::testing::Netns;
using netring::testing::sh;
using netring::testing::VethOptions;
using netring::testing::VethPair;

bool netns_exists(const std::string& name) {
  return sh("ip netns list | grep -qw -- '" + name + "'").ok();
}
bool host_link_exists(const std::string& name) {
  return sh("ip link show dev " + name).ok();
}

// The kernel tears a namespace down asynchronously (cleanup_net runs from a
// workqueue), so a veth whose peer lived there vanishes a little later.
// Polls for 15 s of wall time, however slowly the machine spawns `ip`.
bool host_link_gone(const std::string& name) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  do {
    if (!host_link_exists(name)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < deadline);
  return false;
}

TEST(NetnsFixture, NamespaceAppearsAndIsRemoved) {
  std::string name;
  {
    Netns ns("appear");
    name = ns.name();
    EXPECT_TRUE(netns_exists(name));
    EXPECT_NE(ns.run_ok("ip -o link show lo").find("UP"), std::string::npos) << "loopback is up";
  }
  EXPECT_FALSE(netns_exists(name));
}

TEST(NetnsFixture, TrafficFlowsThroughVethWithMtuAndQueues) {
  Netns a("a"), b("b");
  VethPair v(a, b, VethOptions{.addr_a = "10.200.0.1/24", .addr_b = "10.200.0.2/24", .mtu = 9000, .queues = 4});
  a.run_ok("ping -c 3 -i 0.05 -W 2 10.200.0.2");
  EXPECT_NE(b.run_ok("ip -o link show " + v.name_b()).find("mtu 9000"), std::string::npos);
  EXPECT_EQ(a.run_ok("ls /sys/class/net/" + v.name_a() + "/queues | grep -c rx-"), "4\n");
  EXPECT_GT(v.ifindex_a(), 1);
}

TEST(NetnsFixture, HostSideVethIsRemovedWithItsPeerNamespace) {
  std::string host_end;
  {
    Netns pod("pod");
    VethPair v(Netns::host(), pod, VethOptions{.addr_a = "10.201.0.1/30", .addr_b = "10.201.0.2/30"});
    host_end = v.name_a();
    EXPECT_TRUE(host_link_exists(host_end));
    pod.run_ok("ping -c 1 -W 2 10.201.0.1");
  }
  EXPECT_TRUE(host_link_gone(host_end));
}

TEST(NetnsFixture, WithinRunsCodeInTheNamespace) {
  Netns ns("within");
  VethPair v(ns, Netns::host());
  unsigned in_ns = ns.within([&] { return if_nametoindex(v.name_a().c_str()); });
  EXPECT_NE(in_ns, 0u) << "the interface is visible inside the namespace";
  EXPECT_EQ(if_nametoindex(v.name_a().c_str()), 0u) << "and not in the host";
}

TEST(NetnsFixture, SpawnedProcessIsStopped) {
  Netns ns("spawn");
  int pid;
  {
    auto p = ns.spawn("sleep 30");
    pid = p.pid();
    EXPECT_EQ(::kill(pid, 0), 0);
  }
  EXPECT_NE(::kill(pid, 0), 0);
}

TEST(NetnsFixture, NamesAreUniqueAcrossObjects) {
  Netns a("same"), b("same");
  EXPECT_NE(a.name(), b.name());
  std::string n1 = netring::testing::unique_ifname('a'), n2 = netring::testing::unique_ifname('a');
  EXPECT_NE(n1, n2);
  EXPECT_LE(n1.size(), 15u);
}

// ---- cleanup after failure and interruption, in a child test process ----

// Child bodies, run only when the parent asks (DISABLED_ + explicit filter).
void make_resources_and_report() {
  static Netns ns("child");
  static VethPair v(Netns::host(), ns);
  std::ofstream(std::getenv("NETRING_FIXTURE_REPORT")) << ns.name() << "\n" << v.name_a() << "\n";
}
TEST(NetnsFixtureChild, DISABLED_FailsHoldingResources) {
  Netns ns("child");
  VethPair v(Netns::host(), ns);
  std::ofstream(std::getenv("NETRING_FIXTURE_REPORT")) << ns.name() << "\n" << v.name_a() << "\n";
  FAIL() << "deliberate failure: the fixture must still clean up";
}
TEST(NetnsFixtureChild, DISABLED_HangsHoldingResources) {
  make_resources_and_report();
  std::this_thread::sleep_for(std::chrono::seconds(60));
}

struct ChildOutcome {
  std::string ns, link;
  int status;
};

ChildOutcome run_child(const std::string& test, int signal_after_report) {
  char tmpl[] = "/tmp/netring-fixture-XXXXXX";
  int fd = ::mkstemp(tmpl);
  ::close(fd);
  std::string report = tmpl;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("NETRING_FIXTURE_REPORT", report.c_str(), 1);
    std::string filter = "--gtest_filter=NetnsFixtureChild.DISABLED_" + test;
    ::execl("/proc/self/exe", "child", filter.c_str(), "--gtest_also_run_disabled_tests", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ChildOutcome out{};
  auto read_report = [&] {
    std::ifstream in(report);
    std::getline(in, out.ns);
    std::getline(in, out.link);
    return !out.link.empty();
  };
  if (signal_after_report != 0) {
    for (int i = 0; i < 1500 && !read_report(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ::kill(pid, signal_after_report);
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  out.status = st;
  read_report();
  ::unlink(report.c_str());
  return out;
}

TEST(NetnsFixture, CleansUpAfterAFailingTest) {
  auto c = run_child("FailsHoldingResources", 0);
  ASSERT_FALSE(c.ns.empty()) << "child did not report";
  EXPECT_TRUE(WIFEXITED(c.status) && WEXITSTATUS(c.status) != 0) << "the child test failed";
  EXPECT_FALSE(netns_exists(c.ns));
  EXPECT_TRUE(host_link_gone(c.link));
}

TEST(NetnsFixture, CleansUpAfterSigterm) {
  auto c = run_child("HangsHoldingResources", SIGTERM);
  ASSERT_FALSE(c.ns.empty()) << "child did not report";
  EXPECT_TRUE(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGTERM);
  EXPECT_FALSE(netns_exists(c.ns));
  EXPECT_TRUE(host_link_gone(c.link));
}

TEST(NetnsFixture, SweepRemovesWhatAKilledTestLeft) {
  auto c = run_child("HangsHoldingResources", SIGKILL);
  ASSERT_FALSE(c.ns.empty()) << "child did not report";
  EXPECT_TRUE(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGKILL);
  // SIGKILL cannot be handled, so the namespace outlives the child until a
  // sweep removes it. Another test process starting now (ctest -j) may have
  // swept it already; either way it must be gone after ours.
  netring::testing::sweep_stale();
  EXPECT_FALSE(netns_exists(c.ns));
  EXPECT_TRUE(host_link_gone(c.link));
}

}  // namespace
