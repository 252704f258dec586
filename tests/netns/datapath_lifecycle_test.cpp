// Attach lifecycle across processes: an agent killed with SIGKILL leaves
// traffic flowing, the next agent replaces what it left instead of
// stacking hooks, and a clean shutdown leaves neither hooks nor mirror link.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>

#include "pkg/datapath/datapath.hpp"
#include "tests/testing/mirror_reader.hpp"
#include "tests/testing/netns.hpp"

namespace {

using netring::datapath::AttachMode;
using netring::datapath::Datapath;
using netring::datapath::DatapathOptions;
using netring::datapath::HookPoint;
using netring::datapath::Role;
using netring::datapath::Rung;
using netring::testing::Netns;
using netring::testing::VethOptions;
using netring::testing::VethPair;

DatapathOptions options(AttachMode mode) {
  DatapathOptions o;
  o.highest_rung = Rung::kAfPacketMirror;
  o.attach = mode;
  return o;
}

std::unique_ptr<Datapath> make(const Netns& ns, const DatapathOptions& o) {
  std::unique_ptr<Datapath> out;
  std::string err;
  ns.within([&] {
    auto d = Datapath::create(o);
    if (d)
      out = std::move(d).value();
    else
      err = d.error().message();
  });
  EXPECT_TRUE(out) << err;
  return out;
}

// A child process that joins `ns`, hooks `ifindex` and keeps its heartbeat
// until it is killed. Returns its pid once the hooks are in place.
pid_t spawn_agent(const Netns& ns, int ifindex, AttachMode mode) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipefd[0]);
    const std::string path = "/run/netns/" + ns.name();
    const int nsfd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0 || ::setns(nsfd, CLONE_NEWNET) != 0) ::_exit(2);
    auto d = Datapath::create(options(mode));
    if (!d || !(*d)->hook(ifindex, 1, Role::kPod)) ::_exit(3);
    if (::write(pipefd[1], "R", 1) != 1) ::_exit(4);
    for (;;) {
      (void)(*d)->heartbeat();
      ::usleep(100'000);
    }
  }
  ::close(pipefd[1]);
  char c = 0;
  const bool ready = ::read(pipefd[0], &c, 1) == 1 && c == 'R';
  ::close(pipefd[0]);
  if (!ready) {
    int st = 0;
    ::waitpid(pid, &st, 0);
    ADD_FAILURE() << "agent child failed, exit status " << (WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return -1;
  }
  return pid;
}

void kill_agent(pid_t pid) {
  ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
}

int count_sampler_filters(const Netns& ns, const std::string& dev, const std::string& dir) {
  const std::string needle = " name sampler_" + dir + " ";
  auto out = ns.run("tc filter show dev " + dev + " " + dir).output;
  int n = 0;
  for (std::size_t pos = 0; (pos = out.find(needle, pos)) != std::string::npos; pos += needle.size()) ++n;
  return n;
}

std::size_t tcx_count(const Netns& ns, int ifindex, HookPoint p) {
  std::size_t n = 0;
  ns.within([&] {
    auto ids = netring::datapath::tcx_program_ids(ifindex, p);
    n = ids ? ids->size() : 999;
  });
  return n;
}

class DatapathLifecycle : public ::testing::TestWithParam<AttachMode> {};

TEST_P(DatapathLifecycle, SigkillThenRestartThenCleanShutdown) {
  const AttachMode mode = GetParam();
  if (mode == AttachMode::kTcx && !netring::datapath::tcx_supported()) GTEST_SKIP() << "kernel without tcx";
  Netns host("lh"), pod("lp");
  VethPair link(pod, host, VethOptions{.addr_a = "10.82.0.2/24", .addr_b = "10.82.0.1/24"});
  const int hooked = link.ifindex_b();
  const std::string dev = link.name_b();

  const pid_t agent = spawn_agent(host, hooked, mode);
  ASSERT_GT(agent, 0);
  kill_agent(agent);

  // Traffic flows past whatever the dead agent left.
  auto out = pod.run_ok("ping -q -c 20 -i 0.01 -W 2 10.82.0.1");
  EXPECT_NE(out.find(" 0% packet loss"), std::string::npos) << out;
  if (mode == AttachMode::kClsact) {
    // Classic filters outlive their process (the heartbeat gate stops their cloning).
    EXPECT_EQ(count_sampler_filters(host, dev, "ingress"), 1);
    EXPECT_EQ(count_sampler_filters(host, dev, "egress"), 1);
  } else {
    // tcx links die with the fds of their process.
    EXPECT_EQ(tcx_count(host, hooked, HookPoint::kIngress), 0u);
  }
  EXPECT_TRUE(host.run("ip link show nr-mirror0").ok()) << "the dead agent's mirror link should still be there";

  // The next agent: one netring hook per hook point, and samples flow.
  auto dp = make(host, options(mode));
  ASSERT_TRUE(dp);
  ASSERT_TRUE(host.within([&] { return dp->hook(hooked, 1, Role::kPod); }));
  if (mode == AttachMode::kClsact) {
    EXPECT_EQ(count_sampler_filters(host, dev, "ingress"), 1);
    EXPECT_EQ(count_sampler_filters(host, dev, "egress"), 1);
  } else {
    EXPECT_EQ(tcx_count(host, hooked, HookPoint::kIngress), 1u);
    EXPECT_EQ(tcx_count(host, hooked, HookPoint::kEgress), 1u);
  }
  auto rd = host.within([&] { return std::make_unique<netring::testing::MirrorReader>(dp->mirror()->far_ifindex()); });
  ASSERT_TRUE(rd->ok());
  pod.run_ok("ping -q -c 10 -i 0.01 -W 2 10.82.0.1");
  rd->drain();
  std::size_t icmp = 0;
  for (const auto& s : rd->samples())
    if (netring::testing::icmp_type(s.frame) >= 0) ++icmp;
  EXPECT_EQ(icmp, 20u);

  // Clean shutdown: no hook, no mirror link, the clsact qdisc untouched.
  host.within([&] { dp.reset(); });
  EXPECT_EQ(count_sampler_filters(host, dev, "ingress"), 0);
  EXPECT_EQ(count_sampler_filters(host, dev, "egress"), 0);
  if (mode == AttachMode::kTcx) {
    EXPECT_EQ(tcx_count(host, hooked, HookPoint::kIngress), 0u);
    EXPECT_EQ(tcx_count(host, hooked, HookPoint::kEgress), 0u);
  } else {
    EXPECT_NE(host.run_ok("tc qdisc show dev " + dev).find("clsact"), std::string::npos);
  }
  EXPECT_FALSE(host.run("ip link show nr-mirror0").ok());
  EXPECT_FALSE(host.run("ip link show nr-mirror1").ok());
  out = pod.run_ok("ping -q -c 5 -i 0.01 -W 2 10.82.0.1");
  EXPECT_NE(out.find(" 0% packet loss"), std::string::npos) << out;
}

INSTANTIATE_TEST_SUITE_P(Modes, DatapathLifecycle, ::testing::Values(AttachMode::kClsact, AttachMode::kTcx),
                         [](const auto& info) { return std::string(netring::datapath::to_string(info.param)); });

TEST(DatapathLifecycle, HookingTheMirrorIsRefused) {
  Netns host("lm");
  auto dp = make(host, options(AttachMode::kAuto));
  ASSERT_TRUE(dp);
  auto r = host.within([&] { return dp->hook(dp->mirror()->near_ifindex(), 1, Role::kPod); });
  EXPECT_FALSE(r);
  host.within([&] { dp.reset(); });
}

}  // namespace

namespace {

TEST(DatapathLifecycle, UnhookAfterThePodIsGoneSucceedsAndForgetsItsCounters) {
  Netns host("lg");
  auto pod = std::make_unique<Netns>("lq");
  auto link = std::make_unique<VethPair>(*pod, host, VethOptions{.addr_a = "10.85.0.2/24", .addr_b = "10.85.0.1/24"});
  const int hooked = link->ifindex_b();
  auto dp = make(host, options(AttachMode::kAuto));
  ASSERT_TRUE(dp);
  ASSERT_TRUE(host.within([&] { return dp->hook(hooked, 1, Role::kPod); }));
  pod->run_ok("ping -q -c 3 -i 0.05 -W 2 10.85.0.1");
  auto c = dp->counters();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->interfaces.size(), 2u);  // ingress and egress
  // The pod goes away: its namespace and veth with it.
  link.reset();
  pod.reset();
  auto r = host.within([&] { return dp->unhook(hooked); });
  EXPECT_TRUE(r) << r.error().message();
  c = dp->counters();
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->interfaces.empty());
  EXPECT_TRUE(dp->hooked_rates().empty());
  host.within([&] { dp.reset(); });
}

}  // namespace
