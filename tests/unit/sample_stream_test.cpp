// SampleStream over a scripted capture::Source (an in-memory stand-in for
// the capture interface, not for the kernel): decoding, invalid frames,
// sequence gaps.
#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <vector>

#include "pkg/datapath/sample_stream.hpp"

namespace {

using netring::datapath::Sample;
using netring::datapath::SampleStream;

std::vector<std::byte> sample_frame(std::uint32_t cpu, std::uint32_t seq) {
  netring_sample_hdr h{};
  h.eth_proto = static_cast<__be16>(__builtin_bswap16(NETRING_SAMPLE_ETH_P));
  h.magic = NETRING_SAMPLE_MAGIC;
  h.version = NETRING_SAMPLE_VERSION;
  h.hdr_len = sizeof h;
  h.ifindex = 5;
  h.rate = 1;
  h.orig_len = 4;
  h.cpu = cpu;
  h.seq = seq;
  std::vector<std::byte> f(sizeof h + 4, std::byte{1});
  std::memcpy(f.data(), &h, sizeof h);
  return f;
}

class ScriptedSource : public netring::capture::Source {
 public:
  explicit ScriptedSource(std::deque<std::vector<std::byte>> frames) : frames_(std::move(frames)) {}
  netring::Result<std::size_t> poll_batch(std::span<netring::capture::PacketView> out) override {
    held_.clear();
    std::size_t n = 0;
    while (n < out.size() && !frames_.empty()) {
      held_.push_back(std::move(frames_.front()));
      frames_.pop_front();
      ++n;
    }
    for (std::size_t i = 0; i < n; ++i) {
      out[i] = {};
      out[i].data = held_[i].data();
      out[i].len = static_cast<std::uint32_t>(held_[i].size());
    }
    return n;
  }
  void release() override {
    held_.clear();
    ++releases;
  }
  netring::Result<void> wait(int) override { return netring::ok(); }
  int fd() const override { return -1; }
  netring::capture::Stats stats() override { return stats_; }
  netring::capture::Stats stats_{};
  int releases = 0;
  netring::capture::Backend backend() const override { return netring::capture::Backend::kAfPacket; }
  std::string describe() const override { return "scripted"; }

 private:
  std::deque<std::vector<std::byte>> frames_;
  std::vector<std::vector<std::byte>> held_;
};

TEST(SampleStream, DecodesSkipsInvalidAndCountsGaps) {
  std::deque<std::vector<std::byte>> frames;
  frames.push_back(sample_frame(0, 1));
  frames.push_back(std::vector<std::byte>(60, std::byte{0}));  // not a sample
  frames.push_back(sample_frame(0, 2));
  frames.push_back(sample_frame(1, 7));
  frames.push_back(sample_frame(0, 5));  // 3 and 4 lost
  SampleStream s(std::make_unique<ScriptedSource>(std::move(frames)));
  std::array<Sample, 8> out{};
  auto n = s.poll(out);
  ASSERT_TRUE(n);
  ASSERT_EQ(*n, 4u);
  EXPECT_EQ(out[0].info.seq, 1u);
  EXPECT_EQ(out[3].info.seq, 5u);
  EXPECT_EQ(out[0].frame.size(), 4u);
  s.release();
  auto st = s.stats();
  EXPECT_EQ(st.samples, 4u);
  EXPECT_EQ(st.invalid, 1u);
  EXPECT_EQ(st.gaps, 2u);
  n = s.poll(out);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
}

// The AF_XDP rung's two sources per queue: single frames (the AF_XDP
// socket) and GSO clones (the TPACKET_V3 member), each numbered on its
// own. A batch starts with each source in turn and is topped up from the
// other; both sequences are tracked apart (interleaved in one tracker they
// would look like gaps and reorders); release() and the stats cover both.
TEST(SampleStream, ReadsAGsoSourceBesideTheFirstWithSequencesOfItsOwn) {
  std::deque<std::vector<std::byte>> singles, gsos;
  for (std::uint32_t i = 1; i <= 10; ++i) singles.push_back(sample_frame(0, i));
  for (std::uint32_t i = 1; i <= 6; ++i) gsos.push_back(sample_frame(0, i));
  gsos.push_back(sample_frame(0, 9));  // 7 and 8 lost
  auto first = std::make_unique<ScriptedSource>(std::move(singles));
  auto second = std::make_unique<ScriptedSource>(std::move(gsos));
  first->stats_.packets = 10;
  second->stats_.packets = 7;
  second->stats_.kernel_drops = 2;
  ScriptedSource* a = first.get();
  ScriptedSource* b = second.get();
  SampleStream s(std::move(first));
  EXPECT_FALSE(s.has_gso_source());
  s.add_gso_source(std::move(second));
  EXPECT_TRUE(s.has_gso_source());

  std::array<Sample, 4> out{};
  std::vector<std::uint32_t> seen_singles, seen_gsos;
  std::size_t total = 0;
  for (int round = 0; round < 10; ++round) {
    auto n = s.poll(out);
    ASSERT_TRUE(n);
    if (round == 0) {
      EXPECT_EQ(*n, 4u) << "a full batch from the first source";
      EXPECT_EQ(b->releases, 0);
    }
    if (round == 1) {
      EXPECT_EQ(out[0].info.seq, 1u) << "the next batch starts with the GSO source";
    }
    total += *n;
    s.release();
  }
  EXPECT_EQ(total, 17u);
  EXPECT_EQ(a->releases, 10);
  EXPECT_EQ(b->releases, 10);
  auto st = s.stats();
  EXPECT_EQ(st.samples, 17u);
  EXPECT_EQ(st.gaps, 2u) << "the GSO source's 7 and 8, and nothing from interleaving";
  EXPECT_EQ(st.reordered, 0u);
  EXPECT_EQ(st.capture.packets, 17u);
  EXPECT_EQ(st.capture.kernel_drops, 2u);
}

}  // namespace
