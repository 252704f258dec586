// Service NAT resolution against the real kernel: a client namespace talks to
// a "ClusterIP" that a real iptables DNAT rule in a router namespace (the
// node, where kube-proxy's rules live) rewrites to a backend namespace. The
// resolver, opened in the router namespace, must find the backend in
// conntrack from the pre-DNAT tuple, as the sampler sees it.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "agent/conntrack.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/ok_within.hpp"

namespace {

using namespace netring::agent;
using netring::Result;
using netring::testing::Netns;
using netring::testing::VethOptions;
using netring::testing::VethPair;

constexpr const char* kClient = "10.10.1.2";
constexpr const char* kService = "10.96.0.10";
constexpr const char* kBackend = "10.10.2.2";

class UniqueSock {
 public:
  explicit UniqueSock(int fd = -1) : fd_(fd) {}
  UniqueSock(UniqueSock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  UniqueSock& operator=(UniqueSock&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~UniqueSock() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in addr(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

// ip:port for an IPv4 or IPv6 literal.
struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family() const { return ss.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&ss); }
};

SockAddr sockaddr_of(const char* ip, uint16_t port) {
  SockAddr out;
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&out.ss);
  if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    out.len = sizeof *a6;
  } else {
    auto a4 = addr(ip, port);
    std::memcpy(&out.ss, &a4, sizeof a4);
    out.len = sizeof a4;
  }
  return out;
}

uint16_t local_port(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

FlowKey key(const char* src, uint16_t sport, const char* dst, uint16_t dport, uint8_t proto) {
  return FlowKey{*IpAddr::parse(src), *IpAddr::parse(dst), sport, dport, proto};
}

// Opens the resolver inside `ns`: its netlink socket stays bound to that namespace's conntrack table.
std::unique_ptr<ConntrackResolver> open_in(const Netns& ns, size_t capacity) {
  auto r = netring::testing::ok_within(ns, [&] { return ConntrackResolver::open(capacity); });
  return r ? std::move(*r) : nullptr;
}

// A TCP listener on ip:port made inside `ns`.
UniqueSock tcp_listen(const Netns& ns, const char* ip, uint16_t port) {
  return ns.within([&] {
    const SockAddr a = sockaddr_of(ip, port);
    UniqueSock s(socket(a.family(), SOCK_STREAM, 0));
    int one = 1;
    setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    EXPECT_EQ(bind(s.get(), a.get(), a.len), 0) << strerror(errno);
    EXPECT_EQ(listen(s.get(), 8), 0);
    return s;
  });
}

// A TCP connection to ip:port from inside `ns`; the handshake completes in
// the kernel (no accept needed), so conntrack has an ESTABLISHED entry.
UniqueSock tcp_connect(const Netns& ns, const char* ip, uint16_t port) {
  return ns.within([&] {
    const SockAddr a = sockaddr_of(ip, port);
    UniqueSock s(socket(a.family(), SOCK_STREAM, 0));
    EXPECT_EQ(connect(s.get(), a.get(), a.len), 0) << strerror(errno);
    return s;
  });
}

// client --veth-- router (DNAT 10.96.0.10:80 -> 10.10.2.2:8080, 10.96.0.10:53/udp -> :5353) --veth-- backend
class ServiceNat : public ::testing::Test {
 protected:
  ServiceNat()
      : client_("ctcl"),
        router_("ctrt"),
        backend_("ctbe"),
        v1_(client_, router_, VethOptions{.addr_a = "10.10.1.2/24", .addr_b = "10.10.1.1/24"}),
        v2_(backend_, router_, VethOptions{.addr_a = "10.10.2.2/24", .addr_b = "10.10.2.1/24"}) {
    client_.run_ok("ip route add default via 10.10.1.1");
    backend_.run_ok("ip route add default via 10.10.2.1");
    router_.run_ok("sysctl -qw net.ipv4.ip_forward=1");
    router_.run_ok("sysctl -qw net.netfilter.nf_conntrack_acct=1 || true");
    router_.run_ok(
        "iptables -t nat -A PREROUTING -d 10.96.0.10 -p tcp --dport 80 -j DNAT --to-destination 10.10.2.2:8080");
    router_.run_ok(
        "iptables -t nat -A PREROUTING -d 10.96.0.10 -p udp --dport 53 -j DNAT --to-destination 10.10.2.2:5353");
  }

  Netns client_, router_, backend_;
  VethPair v1_, v2_;
};

TEST_F(ServiceNat, TcpToClusterIpResolvesToTheBackend) {
  UniqueSock listener = tcp_listen(backend_, kBackend, 8080);
  UniqueSock conn = tcp_connect(client_, kService, 80);
  uint16_t sport = local_port(conn.get());
  ASSERT_NE(sport, 0);

  auto resolver = open_in(router_, 1024);
  ASSERT_TRUE(resolver);
  auto& r = *resolver;

  auto b = r.backend(key(kClient, sport, kService, 80, IPPROTO_TCP));
  ASSERT_TRUE(b.ok()) << b.error().message();
  ASSERT_TRUE(b->has_value()) << "no DNAT found for the flow to the ClusterIP";
  EXPECT_EQ((*b)->addr.str(), kBackend);
  EXPECT_EQ((*b)->port, 8080);
  EXPECT_EQ(r.stats().queries, 1u);
  EXPECT_EQ(r.stats().translated, 1u);

  // The second look-up of the same flow is answered from the cache.
  auto again = r.backend(key(kClient, sport, kService, 80, IPPROTO_TCP));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *b);
  EXPECT_EQ(r.stats().queries, 1u);
  EXPECT_EQ(r.stats().cache_hits, 1u);

  // The conntrack CLI, as ground truth, agrees.
  std::string ct = router_.run_ok("conntrack -L -p tcp --orig-dst 10.96.0.10 --orig-port-src " + std::to_string(sport) +
                                  " 2>/dev/null");
  EXPECT_NE(ct.find("src=10.10.2.2 dst=10.10.1.2 sport=8080"), std::string::npos) << ct;
}

TEST_F(ServiceNat, UdpToClusterIpResolvesToTheBackend) {
  UniqueSock s = client_.within([] {
    UniqueSock u(socket(AF_INET, SOCK_DGRAM, 0));
    auto a = addr(kService, 53);
    EXPECT_EQ(connect(u.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(send(u.get(), "q", 1, 0), 1);
    return u;
  });
  uint16_t sport = local_port(s.get());
  auto resolver = open_in(router_, 1024);
  ASSERT_TRUE(resolver);
  // The datagram crosses the router asynchronously; conntrack may need a moment to have the entry.
  Result<std::optional<NatBackend>> b = std::optional<NatBackend>();
  for (int i = 0; i < 500; ++i) {
    b = resolver->backend(key(kClient, sport, kService, 53, IPPROTO_UDP));
    if (!b.ok() || b->has_value()) break;
    usleep(10'000);
  }
  ASSERT_TRUE(b.ok()) << b.error().message();
  ASSERT_TRUE(b->has_value());
  EXPECT_EQ((*b)->addr.str(), kBackend);
  EXPECT_EQ((*b)->port, 5353);
}

TEST_F(ServiceNat, Ipv6ClusterIpResolvesToTheBackend) {
  client_.run_ok("ip -6 addr add fd10:1::2/64 dev " + v1_.name_a() + " nodad");
  router_.run_ok("ip -6 addr add fd10:1::1/64 dev " + v1_.name_b() + " nodad");
  backend_.run_ok("ip -6 addr add fd10:2::2/64 dev " + v2_.name_a() + " nodad");
  router_.run_ok("ip -6 addr add fd10:2::1/64 dev " + v2_.name_b() + " nodad");
  client_.run_ok("ip -6 route add default via fd10:1::1");
  backend_.run_ok("ip -6 route add default via fd10:2::1");
  router_.run_ok("sysctl -qw net.ipv6.conf.all.forwarding=1");
  router_.run_ok(
      "ip6tables -t nat -A PREROUTING -d fd96::10 -p tcp --dport 80 -j DNAT --to-destination [fd10:2::2]:8080");

  UniqueSock listener = tcp_listen(backend_, "fd10:2::2", 8080);
  UniqueSock conn = tcp_connect(client_, "fd96::10", 80);
  sockaddr_in6 local{};
  socklen_t len = sizeof local;
  getsockname(conn.get(), reinterpret_cast<sockaddr*>(&local), &len);
  auto resolver = open_in(router_, 16);
  ASSERT_TRUE(resolver);
  auto b = resolver->backend(
      FlowKey{*IpAddr::parse("fd10:1::2"), *IpAddr::parse("fd96::10"), ntohs(local.sin6_port), 80, IPPROTO_TCP});
  ASSERT_TRUE(b.ok()) << b.error().message();
  ASSERT_TRUE(b->has_value());
  EXPECT_EQ((*b)->addr.str(), "fd10:2::2");
  EXPECT_EQ((*b)->port, 8080);
}

TEST_F(ServiceNat, FlowsWithoutNatAndUnknownFlows) {
  UniqueSock listener = tcp_listen(backend_, kBackend, 8080);
  UniqueSock direct = tcp_connect(client_, kBackend, 8080);
  uint16_t sport = local_port(direct.get());
  auto resolver = open_in(router_, 2);
  ASSERT_TRUE(resolver);
  auto& r = *resolver;

  // Tracked, but its destination was not rewritten: no backend, and the answer is cached.
  auto plain = r.backend(key(kClient, sport, kBackend, 8080, IPPROTO_TCP));
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  EXPECT_FALSE(plain->has_value());
  EXPECT_EQ(r.stats().cached, 1u);

  // No entry at all: no backend, not cached (an entry may appear later).
  auto unknown = r.backend(key(kClient, 1, kService, 80, IPPROTO_TCP));
  ASSERT_TRUE(unknown.ok()) << unknown.error().message();
  EXPECT_FALSE(unknown->has_value());
  EXPECT_EQ(r.stats().not_found, 1u);
  EXPECT_EQ(r.stats().cached, 1u);

  // The cache is bounded: capacity 2.
  UniqueSock more[3] = {UniqueSock(), UniqueSock(), UniqueSock()};
  for (auto& m : more) {
    m = tcp_connect(client_, kBackend, 8080);
    ASSERT_TRUE(r.backend(key(kClient, local_port(m.get()), kBackend, 8080, IPPROTO_TCP)).ok());
  }
  EXPECT_EQ(r.stats().cached, 2u);
}

}  // namespace
