// Attach lifecycle and coexistence of the sampler's TC hooks (tcx and
// clsact) on a real veth, with real traffic: a "pod" namespace pings its
// host-side veth, which carries the hooks.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <optional>
#include <string>

#include "pkg/compat/uapi.h"
#include "pkg/datapath/counters.hpp"
#include "pkg/datapath/heartbeat.hpp"
#include "pkg/datapath/programs.hpp"
#include "pkg/datapath/tc_hook.hpp"
#include "tests/testing/netns.hpp"

namespace {

using netring::datapath::AttachMode;
using netring::datapath::HookPoint;
using netring::datapath::Programs;
using netring::datapath::TcHook;
using netring::testing::Netns;
using netring::testing::VethOptions;
using netring::testing::VethPair;

struct Topology {
  Netns host{"hh"};
  Netns pod{"hp"};
  VethPair link{pod, host, VethOptions{.addr_a = "10.77.0.2/24", .addr_b = "10.77.0.1/24"}};
  VethPair mirror{host, host};  // a stand-in clone target
  int hooked = link.ifindex_b();
};

// The pod's neighbour entry for the host end, pinned: a filter that drops
// the pod's packets also drops its ARP requests, and then the pod's pings
// wait in the neighbour queue and never reach the hook; what arrives (how
// many ARP retries fit in the ping's run) depends on the machine's speed.
void pin_neighbour(const Topology& t) {
  std::string mac = t.host.run_ok("cat /sys/class/net/" + t.link.name_b() + "/address");
  while (!mac.empty() && (mac.back() == '\n' || mac.back() == ' ')) mac.pop_back();
  t.pod.run_ok("ip neigh replace 10.77.0.1 lladdr " + mac + " dev " + t.link.name_a() + " nud permanent");
}

Programs load_programs() {
  auto p = Programs::load({});
  if (!p) throw std::runtime_error(p.error().message());
  return std::move(p).value();
}

// Packets the pod sends that reach the host side, sampled at rate 1.
void configure(Programs& p, const Topology& t) {
  ASSERT_TRUE(p.set_mirror_ifindex(static_cast<std::uint32_t>(t.mirror.ifindex_a())));
  ASSERT_TRUE(p.set_interface(static_cast<std::uint32_t>(t.hooked), 1, NETRING_ROLE_POD));
  ASSERT_TRUE(netring::datapath::Heartbeat(p.heartbeat_map_fd()).beat());
}

std::uint64_t ingress_skbs(const Programs& p, int ifindex) {
  auto c = p.interface_counters(static_cast<std::uint32_t>(ifindex), NETRING_DIR_INGRESS);
  EXPECT_TRUE(c);
  return c ? c->skbs : 0;
}

std::uint64_t clone_attempts(const Programs& p) {
  auto s = netring::datapath::read_stage_counters(p.stats_map_fd(), p.mirror_stats_map_fd());
  EXPECT_TRUE(s);
  return s ? s->clone_attempts : 0;
}

int count_filters(const Topology& t, const std::string& dir, const std::string& name) {
  auto out = t.host.run("tc filter show dev " + t.link.name_b() + " " + dir).output;
  const std::string needle = " name " + name + " ";
  int n = 0;
  for (std::size_t pos = 0; (pos = out.find(needle, pos)) != std::string::npos; pos += needle.size()) ++n;
  return n;
}

std::optional<TcHook> hook(const Topology& t, int prog_fd, HookPoint point, AttachMode mode) {
  auto h = t.host.within([&] { return TcHook::attach(t.hooked, point, prog_fd, mode); });
  EXPECT_TRUE(h) << h.error().message();
  if (!h) return std::nullopt;
  return std::optional<TcHook>(std::move(h).value());
}

// Program ids on the hooked interface's tcx ingress, in run order.
std::vector<std::uint32_t> tcx_ids(const Topology& t) {
  std::vector<std::uint32_t> out;
  std::string err;
  t.host.within([&] {
    auto ids = netring::datapath::tcx_program_ids(t.hooked, HookPoint::kIngress);
    if (ids)
      out = *ids;
    else
      err = ids.error().message();
  });
  EXPECT_TRUE(err.empty()) << err;
  return out;
}

void unhook(const Topology& t, std::optional<TcHook>& h) {
  t.host.within([&] { h.reset(); });
}

// A TC program of another owner: returns `verdict` for every packet.
netring::UniqueFd other_owner_program(int verdict, int redirect_ifindex = 0) {
  std::vector<bpf_insn> insns;
  if (verdict == NETRING_TCX_REDIRECT) {
    // return bpf_redirect(redirect_ifindex, 0): what a CNI does with pod traffic.
    insns = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1, .src_reg = 0, .off = 0, .imm = redirect_ifindex},
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_2, .src_reg = 0, .off = 0, .imm = 0},
        {.code = BPF_JMP | BPF_CALL, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = BPF_FUNC_redirect},
        {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
    };
  } else {
    insns = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = verdict},
        {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
    };
  }
  int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "other_owner", "GPL", insns.data(), insns.size(), nullptr);
  EXPECT_GE(fd, 0) << "loading the other owner's program: " << std::strerror(-fd);
  return netring::UniqueFd(fd);
}

// Attaches `prog_fd` as a classic clsact filter of another owner.
void attach_classic(const Topology& t, int prog_fd, std::uint32_t handle, std::uint32_t prio) {
  int err = t.host.within([&] {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = t.hooked, .attach_point = BPF_TC_INGRESS);
    bpf_tc_hook_create(&hook);
    LIBBPF_OPTS(bpf_tc_opts, o, .prog_fd = prog_fd, .handle = handle, .priority = prio);
    return bpf_tc_attach(&hook, &o);
  });
  ASSERT_EQ(err, 0) << std::strerror(-err);
}

TEST(TcHook, TcxAttachesAtTheHeadAndDetachesCleanly) {
  if (!netring::datapath::tcx_supported()) GTEST_SKIP() << "kernel without tcx";
  Topology t;
  Programs p = load_programs();
  configure(p, t);
  auto h = hook(t, p.sampler_ingress_fd(), HookPoint::kIngress, AttachMode::kAuto);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->mode(), AttachMode::kTcx);
  ASSERT_EQ(tcx_ids(t).size(), 1u);

  t.pod.run_ok("ping -c 5 -i 0.05 -W 2 10.77.0.1");
  EXPECT_GE(ingress_skbs(p, t.hooked), 5u);
  EXPECT_GE(clone_attempts(p), 5u);

  unhook(t, h);
  EXPECT_TRUE(tcx_ids(t).empty());
}

TEST(TcHook, ClsactReplacesAStaleNetringFilterAndNeverRemovesTheQdisc) {
  Topology t;
  Programs old_agent = load_programs();
  Programs new_agent = load_programs();
  configure(new_agent, t);
  auto stale = hook(t, old_agent.sampler_ingress_fd(), HookPoint::kIngress, AttachMode::kClsact);
  ASSERT_TRUE(stale);
  EXPECT_EQ(count_filters(t, "ingress", "sampler_ingress"), 1);
  auto fresh = hook(t, new_agent.sampler_ingress_fd(), HookPoint::kIngress, AttachMode::kClsact);
  ASSERT_TRUE(fresh);
  EXPECT_EQ(count_filters(t, "ingress", "sampler_ingress"), 1) << "hooks stacked";
  // The stale handle no longer owns the filter: dropping it leaves ours.
  unhook(t, stale);
  EXPECT_EQ(count_filters(t, "ingress", "sampler_ingress"), 1);
  // The old program may have counted the pod's IPv6 autoconfiguration
  // before it was replaced; from now on only the new one counts.
  const auto old_before = ingress_skbs(old_agent, t.hooked);
  const auto new_before = ingress_skbs(new_agent, t.hooked);
  t.pod.run_ok("ping -c 3 -i 0.05 -W 2 10.77.0.1");
  EXPECT_GE(ingress_skbs(new_agent, t.hooked) - new_before, 3u);
  EXPECT_EQ(ingress_skbs(old_agent, t.hooked), old_before);

  unhook(t, fresh);
  EXPECT_EQ(count_filters(t, "ingress", "sampler_ingress"), 0);
  EXPECT_NE(t.host.run_ok("tc qdisc show dev " + t.link.name_b()).find("clsact"), std::string::npos)
      << "the clsact qdisc belongs to everyone and must stay";
}

TEST(TcHook, ClsactRefusesToReplaceAForeignFilterAtItsHandle) {
  Topology t;
  Programs p = load_programs();
  auto foreign = other_owner_program(NETRING_TCX_NEXT);
  ASSERT_TRUE(foreign);
  attach_classic(t, foreign.get(), netring::datapath::kClsactHandle, netring::datapath::kClsactPriority);
  auto h = t.host.within(
      [&] { return TcHook::attach(t.hooked, HookPoint::kIngress, p.sampler_ingress_fd(), AttachMode::kClsact); });
  EXPECT_FALSE(h);
  EXPECT_NE(t.host.run_ok("tc filter show dev " + t.link.name_b() + " ingress").find("other_owner"), std::string::npos);
}

TEST(TcHook, ClassicFilterAfterOursStillDecides) {
  Topology t;
  Programs p = load_programs();
  configure(p, t);
  auto h = hook(t, p.sampler_ingress_fd(), HookPoint::kIngress, AttachMode::kClsact);
  ASSERT_TRUE(h);
  // A later filter (priority 10) drops everything: our UNSPEC lets it run.
  auto dropper = other_owner_program(TC_ACT_SHOT);
  ASSERT_TRUE(dropper);
  attach_classic(t, dropper.get(), 7, 10);
  pin_neighbour(t);
  auto r = t.pod.run("ping -c 3 -i 0.1 -W 1 10.77.0.1");
  EXPECT_FALSE(r.ok()) << "the drop filter after ours did not run:\n" << r.output;
  EXPECT_GE(ingress_skbs(p, t.hooked), 3u);
  EXPECT_GE(clone_attempts(p), 3u);
  t.host.run_ok("tc filter del dev " + t.link.name_b() + " ingress prio 10");
  t.pod.run_ok("ping -c 2 -i 0.1 -W 2 10.77.0.1");
  unhook(t, h);
}

class TcxCoexistence : public ::testing::TestWithParam<int> {};

TEST_P(TcxCoexistence, OursRunsFirstAndTheOtherStillDecides) {
  if (!netring::datapath::tcx_supported()) GTEST_SKIP() << "kernel without tcx";
  const int verdict = GetParam();
  Topology t;
  Programs p = load_programs();
  configure(p, t);
  auto h = hook(t, p.sampler_ingress_fd(), HookPoint::kIngress, AttachMode::kTcx);
  ASSERT_TRUE(h);
  auto other = other_owner_program(verdict, t.mirror.ifindex_b());
  ASSERT_TRUE(other);
  // The other owner attaches at the head after us, the way a CNI restarting
  // would.
  netring::UniqueFd other_link(t.host.within([&] {
    LIBBPF_OPTS(bpf_link_create_opts, o);
    o.flags = BPF_F_BEFORE;
    return bpf_link_create(other.get(), t.hooked, static_cast<bpf_attach_type>(NETRING_BPF_TCX_INGRESS), &o);
  }));
  ASSERT_TRUE(other_link);
  auto moved = t.host.within([&] { return h->ensure_first(); });
  ASSERT_TRUE(moved) << moved.error().message();
  EXPECT_TRUE(*moved);
  auto ids = tcx_ids(t);
  ASSERT_EQ(ids.size(), 2u);
  bpf_prog_info info{};
  __u32 len = sizeof info;
  ASSERT_EQ(bpf_obj_get_info_by_fd(p.sampler_ingress_fd(), &info, &len), 0);
  EXPECT_EQ(ids.front(), info.id) << "our sampler is not first";
  auto again = t.host.within([&] { return h->ensure_first(); });
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);

  pin_neighbour(t);
  auto r = t.pod.run("ping -c 3 -i 0.1 -W 1 10.77.0.1");
  if (verdict == NETRING_TCX_PASS)
    EXPECT_TRUE(r.ok()) << r.output;
  else
    EXPECT_FALSE(r.ok()) << "the other owner's drop/redirect did not decide";
  EXPECT_GE(ingress_skbs(p, t.hooked), 3u);
  EXPECT_GE(clone_attempts(p), 3u);
  unhook(t, h);
}

INSTANTIATE_TEST_SUITE_P(Verdicts, TcxCoexistence,
                         ::testing::Values(NETRING_TCX_PASS, NETRING_TCX_DROP, NETRING_TCX_REDIRECT));

}  // namespace
