// Interop: frames netring's AF_XDP TX sends are captured by libpcap on the
// peer byte for byte.
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <chrono>
#include <cstring>
#include <memory>

#include "pkg/xdp/builder.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/xdp_traffic.hpp"

namespace {

using namespace netring;
using namespace netring::xdp;
using netring::testing::Netns;
using netring::testing::VethPair;

std::size_t size_for(std::uint64_t seq) {
  return 64 + (seq * 97) % 1400;
}

TEST(XdpInterop, LibpcapReadsOurTxByteForByte) {
  Netns a("ia"), b("ib");
  VethPair veth(a, b);
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  // The pcap handle's packet socket is made inside b, so it stays there.
  pcap_t* pc = b.within([&] {
    pcap_t* p = pcap_create(veth.name_b().c_str(), errbuf);
    if (p == nullptr) return p;
    pcap_set_snaplen(p, 65535);
    pcap_set_immediate_mode(p, 1);
    pcap_set_timeout(p, 100);
    if (pcap_activate(p) < 0) {
      std::snprintf(errbuf, sizeof(errbuf), "%s", pcap_geterr(p));
      pcap_close(p);
      return static_cast<pcap_t*>(nullptr);
    }
    return p;
  });
  ASSERT_NE(pc, nullptr) << errbuf;
  std::unique_ptr<pcap_t, void (*)(pcap_t*)> guard(pc, pcap_close);
  struct bpf_program filter {};
  ASSERT_EQ(pcap_compile(pc, &filter, "udp dst port 2000", 1, PCAP_NETMASK_UNKNOWN), 0) << pcap_geterr(pc);
  ASSERT_EQ(pcap_setfilter(pc, &filter), 0) << pcap_geterr(pc);
  pcap_freecode(&filter);

  auto tx = a.within(
      [&] { return XdpSocketBuilder().interface(veth.name_a()).rx_ring(0).tx_ring(256).frame_size(2048).build(); });
  ASSERT_TRUE(tx) << tx.error().message();
  constexpr std::uint64_t kPackets = 500;
  std::uint64_t sent = 0, got = 0, mismatches = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (got < kPackets && std::chrono::steady_clock::now() < deadline) {
    // Keep fewer in flight than the capture socket's buffer can hold.
    while (sent < kPackets && sent - got < 32) {
      auto bytes = netring::testing::seq_frame(sent, size_for(sent));
      std::span<const std::byte> one(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size());
      auto r = tx->send(std::span<const std::span<const std::byte>>(&one, 1));
      ASSERT_TRUE(r) << r.error().message();
      if (*r == 0) break;
      ++sent;
    }
    ASSERT_TRUE(tx->flush());
    struct pcap_pkthdr* h = nullptr;
    const u_char* data = nullptr;
    int rc = pcap_next_ex(pc, &h, &data);
    ASSERT_GE(rc, 0) << pcap_geterr(pc);
    if (rc == 0) continue;
    const auto* d = reinterpret_cast<const std::byte*>(data);
    const std::uint64_t seq = netring::testing::seq_of(d, h->caplen);
    ASSERT_EQ(seq, got);
    auto want = netring::testing::seq_frame(seq, size_for(seq));
    if (h->caplen != want.size() || h->len != want.size() || std::memcmp(data, want.data(), want.size()) != 0)
      ++mismatches;
    ++got;
  }
  EXPECT_EQ(got, kPackets);
  EXPECT_EQ(mismatches, 0u);
}

}  // namespace
