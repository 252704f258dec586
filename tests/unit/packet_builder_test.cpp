// The test packet builder is shared by many tests: its output must be what
// a kernel would accept (lengths, checksums), checked here byte by byte.
#include <gtest/gtest.h>

#include "tests/testing/packet_builder.hpp"

namespace {

using netring::testing::PacketBuilder;

std::uint16_t be16(const std::vector<std::uint8_t>& b, std::size_t off) {
  return static_cast<std::uint16_t>(b[off] << 8 | b[off + 1]);
}

std::uint16_t csum(const std::vector<std::uint8_t>& b, std::size_t off, std::size_t n, std::uint32_t acc = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) acc += be16(b, off + i);
  if (n & 1) acc += static_cast<std::uint32_t>(b[off + n - 1] << 8);
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<std::uint16_t>(acc);
}

TEST(PacketBuilder, Ipv4UdpLengthsAndChecksums) {
  auto p = PacketBuilder().eth().ipv4("10.1.2.3", "10.4.5.6").udp(1234, 80).payload(11).build();
  ASSERT_EQ(p.size(), 14u + 20 + 8 + 11);
  EXPECT_EQ(be16(p, 12), 0x0800);
  EXPECT_EQ(be16(p, 14 + 2), 20 + 8 + 11);
  EXPECT_EQ(p[14 + 9], 17);
  EXPECT_EQ(csum(p, 14, 20), 0xffff) << "IPv4 header checksum";
  EXPECT_EQ(be16(p, 34 + 4), 8 + 11);
  std::uint32_t pseudo = csum(p, 14 + 12, 8) + 17 + 19;
  EXPECT_EQ(csum(p, 34, 19, pseudo), 0xffff) << "UDP checksum";
}

TEST(PacketBuilder, QinQIpv6Tcp) {
  auto p = PacketBuilder().eth().vlan(100, 0x88a8).vlan(200).ipv6("fd00::1", "fd00::2").tcp(1, 2, 0x02).build();
  ASSERT_EQ(p.size(), 14u + 4 + 4 + 40 + 20);
  EXPECT_EQ(be16(p, 12), 0x88a8);
  EXPECT_EQ(be16(p, 14) & 0xfff, 100);
  EXPECT_EQ(be16(p, 16), 0x8100);
  EXPECT_EQ(be16(p, 18) & 0xfff, 200);
  EXPECT_EQ(be16(p, 20), 0x86dd);
  EXPECT_EQ(be16(p, 22 + 4), 20);
  EXPECT_EQ(p[22 + 6], 6);
  std::uint32_t pseudo = csum(p, 22 + 8, 32) + 6 + 20;
  EXPECT_EQ(csum(p, 62, 20, pseudo), 0xffff) << "TCP checksum";
}

TEST(PacketBuilder, IcmpV4HasNoPseudoHeader) {
  auto p = PacketBuilder().eth().ipv4("1.1.1.1", "2.2.2.2").icmp(8, 0).payload(4).build();
  EXPECT_EQ(p[14 + 9], 1);
  EXPECT_EQ(csum(p, 34, 12), 0xffff);
}

}  // namespace
