// The mirror program run by the kernel on crafted clones (BPF_PROG_TEST_RUN):
// header written, frame truncated, foreign packets dropped and counted.
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <cstring>
#include <optional>

#include "bpf/sample_meta.h"
#include "pkg/datapath/counters.hpp"
#include "pkg/datapath/programs.hpp"
#include "pkg/datapath/sample.hpp"
#include "tests/testing/bpf_prog_run.hpp"
#include "tests/testing/packet_builder.hpp"

namespace {

using netring::datapath::DecodeStatus;
using netring::datapath::ProgramOptions;
using netring::datapath::Programs;
using netring::datapath::Sample;
using netring::datapath::SampleDirection;
using netring::testing::PacketBuilder;
using netring::testing::prog_run;

std::optional<Programs> load(std::uint32_t snap) {
  ProgramOptions o;
  o.snap_len = snap;
  auto p = Programs::load(o);
  EXPECT_TRUE(p) << p.error().message();
  if (!p) return std::nullopt;
  return std::optional<Programs>(std::move(p).value());
}

std::uint32_t mark_for(std::uint32_t ifindex, bool egress) {
  return (NETRING_MARK_TAG << NETRING_MARK_TAG_SHIFT) | (egress ? NETRING_MARK_DIR_BIT : 0) | ifindex;
}

// A sampler's clone as the mirror program sees it on `ifindex`'s ingress;
// gso: a GSO clone (3 segments of 468 bytes), the kind a reader may take whole.
__sk_buff clone_ctx(std::uint32_t ifindex, std::uint32_t seq, bool gso) {
  __sk_buff ctx{};
  ctx.mark = mark_for(ifindex, false);
  ctx.priority = seq;
  if (gso) {
    ctx.gso_segs = 3;
    ctx.gso_size = 468;
  }
  return ctx;
}

std::uint64_t mirror_stat(const Programs& p, int idx) {
  auto v = netring::datapath::read_percpu_u64_array(p.mirror_stats_map_fd(), NETRING_MST__MAX);
  EXPECT_TRUE(v);
  return v ? (*v)[idx] : 0;
}

Sample decode(const std::vector<std::uint8_t>& out) {
  Sample s;
  auto st = netring::datapath::decode_sample(
      std::span<const std::byte>(reinterpret_cast<const std::byte*>(out.data()), out.size()), s);
  EXPECT_EQ(st, DecodeStatus::kOk) << to_string(st);
  return s;
}

// A clone the program left whole (header + the original), and the sample a
// socket filter keeping header + 128 bytes makes of it.
Sample kept_by_socket(netring::testing::ProgRun r, const std::vector<std::uint8_t>& pkt) {
  EXPECT_EQ(r.data.size(), sizeof(netring_sample_hdr) + pkt.size()) << "not trimmed";
  if (r.data.size() != sizeof(netring_sample_hdr) + pkt.size()) return {};
  EXPECT_EQ(std::memcmp(r.data.data() + sizeof(netring_sample_hdr), pkt.data(), pkt.size()), 0);
  r.data.resize(sizeof(netring_sample_hdr) + 128);
  return decode(r.data);
}

TEST(MirrorProg, WritesHeaderAndTruncatesToSnapLength) {
  auto p = load(128);
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->set_interface(17, 100, NETRING_ROLE_POD));
  auto pkt = PacketBuilder().eth().ipv4("10.1.0.1", "10.1.0.2").tcp(1234, 80).payload(1400).build();
  __sk_buff ctx{};
  ctx.mark = mark_for(17, true);
  ctx.priority = 4242;
  ctx.gso_segs = 9;
  auto r = prog_run(p->mirror_fd(), pkt, &ctx, sizeof ctx, &ctx);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, static_cast<std::uint32_t>(TC_ACT_OK));
  ASSERT_EQ(r.data.size(), sizeof(netring_sample_hdr) + 128);

  netring_sample_hdr h;
  std::memcpy(&h, r.data.data(), sizeof h);
  EXPECT_EQ(r.data[12], 0x88);
  EXPECT_EQ(r.data[13], 0xB5);
  EXPECT_EQ(h.magic, NETRING_SAMPLE_MAGIC);
  EXPECT_EQ(h.version, NETRING_SAMPLE_VERSION);
  EXPECT_EQ(h.hdr_len, sizeof h);

  Sample s = decode(r.data);
  EXPECT_EQ(s.info.ifindex, 17u);
  EXPECT_EQ(s.info.direction, SampleDirection::kEgress);
  EXPECT_EQ(s.info.rate, 100u);
  EXPECT_EQ(s.info.orig_len, pkt.size());
  EXPECT_EQ(s.info.seq, 4242u);
  EXPECT_EQ(s.info.gso_segs, 9);
  EXPECT_TRUE(s.info.truncated);
  EXPECT_NE(s.info.tstamp_ns, 0u);
  EXPECT_DOUBLE_EQ(s.info.weight(), 100.0 / 9.0);
  ASSERT_EQ(s.frame.size(), 128u);
  EXPECT_EQ(std::memcmp(s.frame.data(), pkt.data(), 128), 0) << "the kept bytes must be the original's";
  EXPECT_EQ(ctx.mark, 0u) << "the clone leaves the mirror without the sampler's tag";
  EXPECT_EQ(mirror_stat(*p, NETRING_MST_PASSES), 1u);
}

// With the reader truncating (TPACKET's socket filter keeps header + snap
// length), a GSO clone goes on whole and only its header says truncated:
// the first header + snap_len bytes are exactly what the program would have
// produced itself.
TEST(MirrorProg, ReaderTruncatesLeavesTheCloneWholeAndMarked) {
  auto p = load(128);
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->reader_truncates());
  p->set_reader_truncates(true);
  EXPECT_TRUE(p->reader_truncates());
  auto pkt = PacketBuilder().eth().ipv4("10.1.0.1", "10.1.0.2").tcp(1234, 80).payload(1400).build();
  __sk_buff ctx = clone_ctx(5, 7, true);  // a GSO clone: only those are left whole
  auto r = prog_run(p->mirror_fd(), pkt, &ctx, sizeof ctx, &ctx);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, static_cast<std::uint32_t>(TC_ACT_OK));
  Sample s = kept_by_socket(r, pkt);
  EXPECT_TRUE(s.info.truncated);
  EXPECT_EQ(s.info.snap_len, 128u);
  EXPECT_EQ(s.info.orig_len, pkt.size());
  EXPECT_EQ(s.info.seq, 7u);
  ASSERT_EQ(s.frame.size(), 128u);
  EXPECT_EQ(std::memcmp(s.frame.data(), pkt.data(), 128), 0);
  EXPECT_EQ(mirror_stat(*p, NETRING_MST_PASSES), 1u);
  EXPECT_EQ(mirror_stat(*p, NETRING_MST_TRIM_ERRORS), 0u);

  // A single frame is still trimmed in the program: whole, a jumbo frame
  // plus the header could exceed the mirror's MTU.
  ctx = clone_ctx(5, 0, false);  // the first run cleared the mark
  auto single = prog_run(p->mirror_fd(), pkt, &ctx, sizeof ctx, &ctx);
  ASSERT_EQ(single.err, 0);
  EXPECT_EQ(single.retval, static_cast<std::uint32_t>(TC_ACT_OK));
  EXPECT_EQ(single.data.size(), sizeof(netring_sample_hdr) + 128);

  // Back to trimming in the program: a GSO clone is cut as before.
  p->set_reader_truncates(false);
  ctx = clone_ctx(5, 0, true);
  auto r2 = prog_run(p->mirror_fd(), pkt, &ctx, sizeof ctx, &ctx);
  ASSERT_EQ(r2.err, 0);
  EXPECT_EQ(r2.retval, static_cast<std::uint32_t>(TC_ACT_OK));
  EXPECT_EQ(r2.data.size(), sizeof(netring_sample_hdr) + 128);
}

// The AF_XDP rung's GSO clones: sent whole, stamped and marked truncated,
// into the far end's receive path (TC_ACT_REDIRECT; BPF_PROG_TEST_RUN runs
// no redirect, the return value is the program's), where the TPACKET_V3
// socket keeps header + snap length. Single frames are trimmed and cross
// the pair as before.
TEST(MirrorProg, GsoApartRedirectsGsoClonesWholeToTheFarEnd) {
  auto p = load(128);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->gso_apart(), 0u);
  ASSERT_TRUE(p->set_gso_apart(1));  // lo: any device the redirect may name
  EXPECT_EQ(p->gso_apart(), 1u);
  EXPECT_FALSE(p->reader_truncates()) << "the AF_XDP rung's single frames are still trimmed in the program";
  auto pkt = PacketBuilder().eth().ipv4("10.1.0.1", "10.1.0.2").tcp(1234, 80).payload(1400).build();
  __sk_buff ctx = clone_ctx(5, 11, true);
  auto r = prog_run(p->mirror_fd(), pkt, &ctx, sizeof ctx, &ctx);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, static_cast<std::uint32_t>(TC_ACT_REDIRECT));
  Sample s = kept_by_socket(r, pkt);
  EXPECT_TRUE(s.info.truncated);
  EXPECT_EQ(s.info.orig_len, pkt.size());
  EXPECT_EQ(s.info.gso_segs, 3);
  EXPECT_EQ(s.info.seq, 11u);
  EXPECT_EQ(mirror_stat(*p, NETRING_MST_PASSES), 1u);
  EXPECT_EQ(mirror_stat(*p, NETRING_MST_GSO_APART), 1u);

  ctx = clone_ctx(5, 0, false);
  auto single = prog_run(p->mirror_fd(), pkt, &ctx, sizeof ctx, &ctx);
  ASSERT_EQ(single.err, 0);
  EXPECT_EQ(single.retval, static_cast<std::uint32_t>(TC_ACT_OK));
  EXPECT_EQ(single.data.size(), sizeof(netring_sample_hdr) + 128);
  EXPECT_EQ(mirror_stat(*p, NETRING_MST_PASSES), 2u);
  EXPECT_EQ(mirror_stat(*p, NETRING_MST_GSO_APART), 1u);

  // Off again: a GSO clone is trimmed and crosses the pair.
  ASSERT_TRUE(p->set_gso_apart(0));
  ctx = clone_ctx(5, 0, true);
  auto off = prog_run(p->mirror_fd(), pkt, &ctx, sizeof ctx, &ctx);
  ASSERT_EQ(off.err, 0);
  EXPECT_EQ(off.retval, static_cast<std::uint32_t>(TC_ACT_OK));
  EXPECT_EQ(off.data.size(), sizeof(netring_sample_hdr) + 128);
  EXPECT_EQ(mirror_stat(*p, NETRING_MST_GSO_APART), 1u);
}

TEST(MirrorProg, ShortFramesAreKeptWhole) {
  auto p = load(128);
  ASSERT_TRUE(p);
  auto pkt = PacketBuilder().eth().ipv4("10.1.0.1", "10.1.0.2").udp(1, 2).payload(20).build();
  __sk_buff ctx{};
  ctx.mark = mark_for(3, false);
  ctx.priority = 1;
  auto r = prog_run(p->mirror_fd(), pkt, &ctx, sizeof ctx, &ctx);
  ASSERT_EQ(r.err, 0);
  Sample s = decode(r.data);
  EXPECT_FALSE(s.info.truncated);
  EXPECT_EQ(s.info.direction, SampleDirection::kIngress);
  EXPECT_EQ(s.info.rate, 0u) << "no config entry for ifindex 3";
  ASSERT_EQ(s.frame.size(), pkt.size());
  EXPECT_EQ(std::memcmp(s.frame.data(), pkt.data(), pkt.size()), 0);
}

TEST(MirrorProg, SnapZeroKeepsEverything) {
  auto p = load(0);
  ASSERT_TRUE(p);
  auto pkt = PacketBuilder().eth().ipv4("10.1.0.1", "10.1.0.2").udp(1, 2).payload(1000).build();
  __sk_buff ctx{};
  ctx.mark = mark_for(3, false);
  auto r = prog_run(p->mirror_fd(), pkt, &ctx, sizeof ctx, &ctx);
  ASSERT_EQ(r.err, 0);
  Sample s = decode(r.data);
  EXPECT_EQ(s.frame.size(), pkt.size());
}

TEST(MirrorProg, ForeignPacketsAreDroppedAndCounted) {
  auto p = load(128);
  ASSERT_TRUE(p);
  auto pkt = PacketBuilder().eth().ipv4("10.1.0.1", "10.1.0.2").udp(1, 2).payload(20).build();
  __sk_buff ctx{};
  ctx.mark = 0x1234;
  auto r = prog_run(p->mirror_fd(), pkt, &ctx, sizeof ctx, &ctx);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, static_cast<std::uint32_t>(TC_ACT_SHOT));
  EXPECT_EQ(mirror_stat(*p, NETRING_MST_FOREIGN), 1u);
  EXPECT_EQ(mirror_stat(*p, NETRING_MST_PASSES), 0u);
}

}  // namespace

namespace {

std::optional<Programs> load_queues(std::uint32_t queues) {
  ProgramOptions o;
  o.mirror_queues = queues;
  auto p = Programs::load(o);
  EXPECT_TRUE(p) << p.error().message();
  if (!p) return std::nullopt;
  return std::optional<Programs>(std::move(p).value());
}

}  // namespace

// What the sampler puts in cb[] (sample_meta.h) reaches the header: the rate
// it decided with (not the config map's, which may have changed since), the
// flow's queue, which the clone is sent to, and the counted flag, after
// which the sample stands for no estimate. The clone leaves with cb[0]
// cleared.
TEST(MirrorProg, SamplerMetadataInCbReachesTheHeaderAndPicksTheQueue) {
  auto p = load_queues(4);
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->set_interface(17, 100, NETRING_ROLE_POD));
  auto pkt = PacketBuilder().eth().ipv4("10.1.0.1", "10.1.0.2").tcp(1234, 80).payload(100).build();
  __sk_buff ctx{};
  ctx.mark = mark_for(17, false);
  ctx.priority = 7;
  ctx.cb[0] = NETRING_CB_MAGIC;
  ctx.cb[1] = 33;
  ctx.cb[2] = 3 | (NETRING_SAMPLE_F_COUNTED << NETRING_CB_FLAGS_SHIFT);
  auto r = prog_run(p->mirror_fd(), pkt, &ctx, sizeof ctx, &ctx);
  ASSERT_EQ(r.err, 0);
  Sample s = decode(r.data);
  EXPECT_EQ(s.info.rate, 33u);
  EXPECT_EQ(s.info.queue, 3u);
  EXPECT_TRUE(s.info.counted);
  EXPECT_DOUBLE_EQ(s.info.weight(), 0.0);
  EXPECT_EQ(ctx.cb[0], 0u);

  // Without the magic (a sampler that set no cb): the config map's rate, the
  // CPU's queue, no flags.
  __sk_buff plain{};
  plain.mark = mark_for(17, false);
  plain.cb[1] = 33;
  plain.cb[2] = 2 | (NETRING_SAMPLE_F_COUNTED << NETRING_CB_FLAGS_SHIFT);
  r = prog_run(p->mirror_fd(), pkt, &plain, sizeof plain, &plain);
  ASSERT_EQ(r.err, 0);
  s = decode(r.data);
  EXPECT_EQ(s.info.rate, 100u);
  EXPECT_FALSE(s.info.counted);
  EXPECT_EQ(s.info.queue, s.info.cpu % 4);
}
