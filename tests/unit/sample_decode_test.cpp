// Decoding of sample frames and per-CPU sequence gap tracking.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "pkg/datapath/sample.hpp"

namespace {

using netring::datapath::decode_sample;
using netring::datapath::DecodeStatus;
using netring::datapath::Sample;
using netring::datapath::SequenceTracker;

std::vector<std::byte> frame(std::uint32_t orig_len, std::size_t data_len, bool truncated, std::uint16_t snap) {
  netring_sample_hdr h{};
  h.eth_proto = static_cast<__be16>(__builtin_bswap16(NETRING_SAMPLE_ETH_P));
  h.magic = NETRING_SAMPLE_MAGIC;
  h.version = NETRING_SAMPLE_VERSION;
  h.hdr_len = sizeof h;
  h.direction = NETRING_DIR_EGRESS;
  h.flags = truncated ? NETRING_SAMPLE_F_TRUNCATED : 0;
  h.ifindex = 9;
  h.rate = 100;
  h.orig_len = orig_len;
  h.cpu = 1;
  h.seq = 77;
  h.gso_segs = 4;
  h.snap_len = snap;
  std::vector<std::byte> f(sizeof h + data_len, std::byte{0x5a});
  std::memcpy(f.data(), &h, sizeof h);
  return f;
}

Sample decode_ok(const std::vector<std::byte>& f) {
  Sample s;
  EXPECT_EQ(decode_sample(f, s), DecodeStatus::kOk);
  return s;
}

TEST(SampleDecode, ValidHeaders) {
  Sample s = decode_ok(frame(60, 60, false, 128));
  EXPECT_EQ(s.info.ifindex, 9u);
  EXPECT_EQ(s.info.seq, 77u);
  EXPECT_EQ(s.frame.size(), 60u);
  EXPECT_DOUBLE_EQ(s.info.weight(), 25.0);
  s = decode_ok(frame(9000, 128, true, 128));
  EXPECT_TRUE(s.info.truncated);
  EXPECT_EQ(s.info.orig_len, 9000u);
}

TEST(SampleDecode, WeightIsOneWhenSegmentsReachTheRate) {
  netring::datapath::SampleInfo i;
  i.rate = 10;
  i.gso_segs = 45;
  EXPECT_DOUBLE_EQ(i.weight(), 1.0);
  i.rate = 0;
  EXPECT_DOUBLE_EQ(i.weight(), 0.0);
}

TEST(SampleDecode, RejectsMalformedFrames) {
  Sample s;
  auto f = frame(60, 60, false, 128);
  EXPECT_EQ(decode_sample(std::span(f).first(20), s), DecodeStatus::kTooShort);
  auto bad = f;
  bad[14] = std::byte{0};
  EXPECT_EQ(decode_sample(bad, s), DecodeStatus::kNotSample);
  bad = f;
  bad[12] = std::byte{0x08};
  EXPECT_EQ(decode_sample(bad, s), DecodeStatus::kNotSample);
  bad = f;
  bad[16] = std::byte{99};
  EXPECT_EQ(decode_sample(bad, s), DecodeStatus::kBadVersion);
  bad = f;
  bad[17] = std::byte{40};
  EXPECT_EQ(decode_sample(bad, s), DecodeStatus::kBadLength);
  // Untruncated but the frame is shorter than orig_len.
  EXPECT_EQ(decode_sample(frame(100, 60, false, 128), s), DecodeStatus::kBadLength);
  // Truncated but not to the snap length.
  EXPECT_EQ(decode_sample(frame(9000, 100, true, 128), s), DecodeStatus::kBadLength);
}

TEST(SequenceTracker, CountsGapsPerCpu) {
  SequenceTracker t;
  EXPECT_EQ(t.observe(0, 1), 0u);
  EXPECT_EQ(t.observe(1, 10), 0u);
  EXPECT_EQ(t.observe(0, 2), 0u);
  EXPECT_EQ(t.observe(0, 5), 2u);  // 3 and 4 lost
  EXPECT_EQ(t.observe(1, 11), 0u);
  EXPECT_EQ(t.observe(1, 4), 0u);  // late
  EXPECT_EQ(t.gaps(), 2u);
  EXPECT_EQ(t.reordered(), 1u);
  EXPECT_EQ(t.seen(), 6u);
}

TEST(SequenceTracker, WrapsAround) {
  SequenceTracker t;
  t.observe(0, 0xfffffffeU);
  EXPECT_EQ(t.observe(0, 0xffffffffU), 0u);
  EXPECT_EQ(t.observe(0, 1), 1u);  // 0 lost
}

}  // namespace
