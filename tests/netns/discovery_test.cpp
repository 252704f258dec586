// Interface discovery against the real kernel: the discovery runs inside a
// test namespace (its netlink sockets are opened there), which plays the
// node; other namespaces play pods.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "agent/discovery/interface_discovery.hpp"
#include "tests/testing/netns.hpp"

namespace netring::agent::discovery {
namespace {

using testing::Netns;
using testing::VethOptions;
using testing::VethPair;

VethOptions veth(std::string addr_a = "", std::string addr_b = "", bool up = true) {
  VethOptions o;
  o.addr_a = std::move(addr_a);
  o.addr_b = std::move(addr_b);
  o.up = up;
  return o;
}
using Clock = std::chrono::steady_clock;

// Generous: the machine is shared; the latency is printed, not asserted.
constexpr auto kWait = std::chrono::seconds(20);

class Recorder {
 public:
  void operator()(const LinkEvent& e) {
    {
      std::lock_guard lock(mu_);
      events_.push_back({e, Clock::now()});
    }
    cv_.notify_all();
  }
  // The nth event about `name` of type `type`; nullopt after kWait.
  std::optional<std::pair<LinkEvent, Clock::time_point>> wait_for(const std::string& name, LinkEvent::Type type,
                                                                  int nth = 1) {
    std::unique_lock lock(mu_);
    std::optional<std::pair<LinkEvent, Clock::time_point>> found;
    cv_.wait_for(lock, kWait, [&] {
      int seen = 0;
      for (auto& ev : events_)
        if (ev.first.link.name == name && ev.first.type == type && ++seen == nth) {
          found = ev;
          return true;
        }
      return false;
    });
    return found;
  }
  std::vector<LinkEvent> about(const std::string& name) {
    std::lock_guard lock(mu_);
    std::vector<LinkEvent> out;
    for (auto& ev : events_)
      if (ev.first.link.name == name) out.push_back(ev.first);
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<LinkEvent, Clock::time_point>> events_;
};

std::unique_ptr<InterfaceDiscovery> open_in(const Netns& ns, const DiscoveryOptions& opts, Recorder& rec) {
  // The netlink sockets belong to the namespace they are opened in.
  std::unique_ptr<InterfaceDiscovery> d;
  std::string error;
  ns.within([&] {
    auto r = InterfaceDiscovery::open(opts, [&rec](const LinkEvent& e) { rec(e); });
    if (r.ok())
      d = std::move(*r);
    else
      error = r.error().message();
  });
  if (!d) {
    ADD_FAILURE() << error;
    return nullptr;
  }
  auto started = d->start();
  EXPECT_TRUE(started.ok()) << started.error().message();
  return d;
}

bool is_current(const InterfaceDiscovery& d, const std::string& name) {
  for (const auto& [l, r] : d.current())
    if (l.name == name) return true;
  return false;
}

TEST(Discovery, PodVethsAtStartAndHotPluggedOnesAreReportedAndRemoved) {
  Netns node("node"), pod1("pod1"), pod2("pod2");
  VethPair existing(node, pod1, veth("10.20.0.1/24", "10.20.0.2/24"));
  Recorder rec;
  auto d = open_in(node, {}, rec);
  ASSERT_TRUE(d);

  // Reported by the initial dump, during start().
  auto first = rec.wait_for(existing.name_a(), LinkEvent::Type::kAdded);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->first.role, LinkRole::kPodVeth);
  EXPECT_EQ(first->first.link.ifindex, static_cast<std::uint32_t>(existing.ifindex_a()));
  EXPECT_EQ(first->first.link.kind, "veth");
  EXPECT_TRUE(first->first.link.link_netnsid.has_value());
  EXPECT_EQ(first->first.link.peer_ifindex, static_cast<std::uint32_t>(existing.ifindex_b()));
  EXPECT_TRUE(is_current(*d, existing.name_a()));
  // The peer end lives in the pod and is none of the node's business.
  EXPECT_TRUE(rec.about(existing.name_b()).empty());

  // Hot-plug: a new pod veth is reported from the kernel's notification.
  auto t0 = Clock::now();
  auto plugged = std::make_unique<VethPair>(node, pod2, veth("", "", false));
  const std::string name = plugged->name_a();
  const auto ifindex = static_cast<std::uint32_t>(plugged->ifindex_a());
  auto added = rec.wait_for(name, LinkEvent::Type::kAdded);
  ASSERT_TRUE(added) << "no event for " << name;
  EXPECT_EQ(added->first.role, LinkRole::kPodVeth);
  EXPECT_EQ(added->first.link.ifindex, ifindex);
  std::printf("hot-plug: pod veth reported %.1f ms after `ip link add` started (target: 100 ms)\n",
              std::chrono::duration<double, std::milli>(added->second - t0).count());

  // An address appearing on it is an update.
  node.run_ok("ip addr add 10.21.0.1/32 dev " + name);
  auto updated = rec.wait_for(name, LinkEvent::Type::kUpdated);
  ASSERT_TRUE(updated);
  ASSERT_EQ(updated->first.link.addresses.size(), 1u);
  EXPECT_EQ(updated->first.link.addresses[0].str(), "10.21.0.1");

  // Deleted: removed.
  plugged.reset();
  auto removed = rec.wait_for(name, LinkEvent::Type::kRemoved);
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->first.link.ifindex, ifindex);
  EXPECT_FALSE(is_current(*d, name));
  EXPECT_TRUE(is_current(*d, existing.name_a()));
  d->stop();
}

TEST(Discovery, HostOnlyVethsAndMirrorLinksAreNotPodVeths) {
  Netns node("node"), pod("pod");
  VethPair host_only(node, node);
  node.run_ok("ip link add nr-mirror0 type veth peer name nr-mirror1");
  // nr-mirror* is excluded even when its peer is in another namespace.
  node.run_ok("ip link add nr-mirror9 type veth peer name eth0 netns " + pod.name());
  VethPair real_pod(node, pod);
  Recorder rec;
  // Even an include pattern that matches everything does not bring the
  // mirror links in.
  DiscoveryOptions opts;
  opts.include = "^nr-";
  auto d = open_in(node, opts, rec);
  ASSERT_TRUE(d);
  ASSERT_TRUE(rec.wait_for(real_pod.name_a(), LinkEvent::Type::kAdded));
  EXPECT_TRUE(rec.about(host_only.name_a()).empty());
  EXPECT_TRUE(rec.about(host_only.name_b()).empty());
  for (const char* n : {"nr-mirror0", "nr-mirror1", "nr-mirror9"}) EXPECT_TRUE(rec.about(n).empty()) << n;
  // Made after start: still nothing (the pod veth made last acts as a fence).
  node.run_ok("ip link add nr-mirror2 type veth peer name nr-mirror3");
  VethPair fence(node, pod);
  ASSERT_TRUE(rec.wait_for(fence.name_a(), LinkEvent::Type::kAdded));
  EXPECT_TRUE(rec.about("nr-mirror2").empty());
  EXPECT_EQ(d->current().size(), 2u);
}

TEST(Discovery, DefaultRouteDevicesArePhysicalAndFollowRouteChanges) {
  Netns node("node");
  VethPair uplink(node, node, veth("192.0.2.1/24"));
  VethPair other(node, node, veth("198.51.100.1/24"));
  node.run_ok("ip route add default via 192.0.2.254 dev " + uplink.name_a());
  Recorder rec;
  auto d = open_in(node, {}, rec);
  ASSERT_TRUE(d);
  auto up = rec.wait_for(uplink.name_a(), LinkEvent::Type::kAdded);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->first.role, LinkRole::kPhysical);
  ASSERT_FALSE(up->first.link.addresses.empty());
  EXPECT_EQ(up->first.link.addresses[0].str(), "192.0.2.1");
  EXPECT_TRUE(rec.about(other.name_a()).empty());

  // The default route moves: the old device stops being physical, the new one starts.
  node.run_ok("ip route replace default via 198.51.100.254 dev " + other.name_a());
  ASSERT_TRUE(rec.wait_for(other.name_a(), LinkEvent::Type::kAdded));
  ASSERT_TRUE(rec.wait_for(uplink.name_a(), LinkEvent::Type::kRemoved));

  // An IPv6 default route counts too.
  node.run_ok("ip -6 addr add 2001:db8::1/64 dev " + uplink.name_a() + " nodad");
  node.run_ok("ip -6 route add default via 2001:db8::ff dev " + uplink.name_a());
  auto again = rec.wait_for(uplink.name_a(), LinkEvent::Type::kAdded, 2);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->first.role, LinkRole::kPhysical);
}

TEST(Discovery, ExplicitPhysicalInterfacesReplaceTheDefaultRoute) {
  Netns node("node");
  VethPair uplink(node, node, veth("192.0.2.1/24"));
  VethPair nic(node, node);
  node.run_ok("ip route add default via 192.0.2.254 dev " + uplink.name_a());
  Recorder rec;
  DiscoveryOptions opts;
  opts.physical_interfaces = {nic.name_a()};
  auto d = open_in(node, opts, rec);
  ASSERT_TRUE(d);
  auto e = rec.wait_for(nic.name_a(), LinkEvent::Type::kAdded);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->first.role, LinkRole::kPhysical);
  EXPECT_TRUE(rec.about(uplink.name_a()).empty());
}

TEST(Discovery, IncludeAndExcludePatternsOverride) {
  Netns node("node"), pod("pod");
  VethPair keep(node, pod), drop(node, pod), extra(node, node);
  Recorder rec;
  DiscoveryOptions opts;
  opts.exclude = "^" + drop.name_a() + "$";
  opts.include = "^(" + extra.name_a() + "|lo)$";
  auto d = open_in(node, opts, rec);
  ASSERT_TRUE(d);
  ASSERT_TRUE(rec.wait_for(keep.name_a(), LinkEvent::Type::kAdded));
  auto x = rec.wait_for(extra.name_a(), LinkEvent::Type::kAdded);
  ASSERT_TRUE(x);
  EXPECT_EQ(x->first.role, LinkRole::kExtra);
  auto lo = rec.wait_for("lo", LinkEvent::Type::kAdded);
  ASSERT_TRUE(lo);
  EXPECT_EQ(lo->first.role, LinkRole::kExtra);
  EXPECT_TRUE(rec.about(drop.name_a()).empty());
  EXPECT_TRUE(rec.about(extra.name_b()).empty());
  EXPECT_EQ(d->current().size(), 3u);
}

TEST(Discovery, BadPatternIsAnErrorNamingTheFlag) {
  DiscoveryOptions opts;
  opts.exclude = "veth[";
  auto d = InterfaceDiscovery::open(opts, [](const LinkEvent&) {});
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message().find("--interfaces-exclude"), std::string::npos) << d.error().message();
  EXPECT_NE(d.error().message().find("veth["), std::string::npos) << d.error().message();
}

}  // namespace
}  // namespace netring::agent::discovery
