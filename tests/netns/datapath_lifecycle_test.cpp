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

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/sample_meta.h"
#include "pkg/datapath/datapath.hpp"
#include "tests/testing/datapath_in_netns.hpp"
#include "tests/testing/mirror_reader.hpp"
#include "tests/testing/netns.hpp"

namespace {

using netring::datapath::AttachMode;
using netring::datapath::Datapath;
using netring::datapath::DatapathOptions;
using netring::datapath::HookPoint;
using netring::datapath::Role;
using netring::datapath::Rung;
using netring::testing::destroy_datapath;
using netring::testing::make_datapath;
using netring::testing::Netns;
using netring::testing::VethOptions;
using netring::testing::VethPair;

DatapathOptions options(AttachMode mode) {
  DatapathOptions o;
  o.highest_rung = Rung::kAfPacketMirror;
  o.attach = mode;
  return o;
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
    auto o = options(mode);
    o.programs.heartbeat_timeout_ns = 1'000'000'000;  // its stale filters stop cloning 1 s after death
    auto d = Datapath::create(o);
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

// Clone attempts and heartbeat-gated skips of the program at netring's
// clsact handle, read through the program's own maps (it belongs to a dead
// process: only its id leads to it).
struct StaleStats {
  bool found = false;
  std::uint64_t clone_attempts = 0, heartbeat_stale = 0;
};
StaleStats stale_sampler_stats(const Netns& ns, int ifindex) {
  StaleStats out;
  ns.within([&] {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
    LIBBPF_OPTS(bpf_tc_opts, q, .handle = netring::datapath::kClsactHandle,
                .priority = netring::datapath::kClsactPriority);
    if (bpf_tc_query(&hook, &q) != 0) return;
    netring::UniqueFd prog(bpf_prog_get_fd_by_id(q.prog_id));
    if (!prog) return;
    std::uint32_t map_ids[16] = {};
    bpf_prog_info info{};
    info.nr_map_ids = 16;
    info.map_ids = reinterpret_cast<std::uintptr_t>(map_ids);
    __u32 len = sizeof info;
    if (bpf_obj_get_info_by_fd(prog.get(), &info, &len) != 0) return;
    for (std::uint32_t i = 0; i < info.nr_map_ids && i < 16; ++i) {
      netring::UniqueFd map(bpf_map_get_fd_by_id(map_ids[i]));
      bpf_map_info mi{};
      __u32 mlen = sizeof mi;
      if (!map || bpf_obj_get_info_by_fd(map.get(), &mi, &mlen) != 0 || std::string(mi.name) != "stats") continue;
      auto v = netring::datapath::read_percpu_u64_array(map.get(), NETRING_ST__MAX);
      if (!v) return;
      out.found = true;
      out.clone_attempts = (*v)[NETRING_ST_CLONE_ATTEMPTS];
      out.heartbeat_stale = (*v)[NETRING_ST_HEARTBEAT_STALE];
    }
  });
  return out;
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
    // Classic filters outlive their process; the heartbeat gate stops their
    // cloning once the dead agent's timeout (1 s) has passed.
    EXPECT_EQ(count_sampler_filters(host, dev, "ingress"), 1);
    EXPECT_EQ(count_sampler_filters(host, dev, "egress"), 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    const StaleStats before = stale_sampler_stats(host, hooked);
    ASSERT_TRUE(before.found);
    pod.run_ok("ping -q -c 10 -i 0.01 -W 2 10.82.0.1");
    const StaleStats after = stale_sampler_stats(host, hooked);
    EXPECT_EQ(after.clone_attempts, before.clone_attempts) << "a dead agent's sampler kept cloning";
    EXPECT_GE(after.heartbeat_stale - before.heartbeat_stale, 10u);
  } else {
    // tcx links die with the fds of their process.
    EXPECT_EQ(tcx_count(host, hooked, HookPoint::kIngress), 0u);
  }
  EXPECT_TRUE(host.run("ip link show nr-mirror0").ok()) << "the dead agent's mirror link should still be there";

  // The next agent: one netring hook per hook point, and samples flow.
  auto dp = make_datapath(host, options(mode));
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
  destroy_datapath(host, dp);
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
  auto dp = make_datapath(host, options(AttachMode::kAuto));
  ASSERT_TRUE(dp);
  auto r = host.within([&] { return dp->hook(dp->mirror()->near_ifindex(), 1, Role::kPod); });
  EXPECT_FALSE(r);
  destroy_datapath(host, dp);
}

}  // namespace

namespace {

TEST(DatapathLifecycle, UnhookAfterThePodIsGoneSucceedsAndForgetsItsCounters) {
  Netns host("lg");
  auto pod = std::make_unique<Netns>("lq");
  auto link = std::make_unique<VethPair>(*pod, host, VethOptions{.addr_a = "10.85.0.2/24", .addr_b = "10.85.0.1/24"});
  const int hooked = link->ifindex_b();
  auto dp = make_datapath(host, options(AttachMode::kAuto));
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
  destroy_datapath(host, dp);
}

}  // namespace
