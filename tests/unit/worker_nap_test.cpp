// The worker's nap between reads of a trickling sample stream: its ceiling
// follows the sample rate (nap_ceiling), and a worker whose samples trickle
// in wakes about once per ceiling, not once per 10 ms. The stream is an
// in-memory stand-in for the capture interface (frames due at a steady
// rate, held as a ring of 2048 would hold them), not for the kernel.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "agent/capture_api/capture_tap.hpp"
#include "agent/worker.hpp"
#include "pkg/datapath/sample_stream.hpp"

namespace netring::agent {
namespace {

using std::chrono::microseconds;
using Clock = std::chrono::steady_clock;

class SteadySource : public capture::Source {
 public:
  SteadySource(double per_second, std::size_t ring) : per_second_(per_second), ring_(ring), frame_(64, std::byte{0}) {}
  Result<std::size_t> poll_batch(std::span<capture::PacketView> out) override {
    const std::uint64_t due = this->due();
    std::uint64_t waiting = due - taken_;
    if (waiting > ring_) {  // the ring would have overflowed: those frames are lost
      lost_ += waiting - ring_;
      taken_ = due - ring_;
      waiting = ring_;
    }
    const std::size_t n = std::min<std::uint64_t>(waiting, out.size());
    for (std::size_t i = 0; i < n; ++i) {
      out[i] = {};
      out[i].data = frame_.data();
      out[i].len = out[i].orig_len = static_cast<std::uint32_t>(frame_.size());
    }
    taken_ += n;
    return n;
  }
  void release() override {}
  Result<void> wait(int timeout_ms) override {
    // As poll() on the socket: back at the next frame or the timeout.
    const auto next = start_ + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>((static_cast<double>(taken_) + 1) / per_second_));
    std::this_thread::sleep_until(std::min(next, Clock::now() + std::chrono::milliseconds(timeout_ms)));
    return ok();
  }
  int fd() const override { return -1; }
  capture::Stats stats() override { return {}; }
  capture::Backend backend() const override { return capture::Backend::kAfPacket; }
  std::string describe() const override { return "steady"; }
  std::uint64_t lost() const { return lost_; }

 private:
  std::uint64_t due() const {
    return static_cast<std::uint64_t>(std::chrono::duration<double>(Clock::now() - start_).count() * per_second_);
  }
  const Clock::time_point start_ = Clock::now();
  double per_second_;
  std::uint64_t ring_;
  std::uint64_t taken_ = 0, lost_ = 0;
  std::vector<std::byte> frame_;
};

TEST(WorkerNap, TheCeilingFollowsTheSampleRateAndTheCpusPerQueue) {
  EXPECT_EQ(nap_ceiling(1, 2048, 1), microseconds(10'000)) << "every packet copied: as short as before";
  EXPECT_EQ(nap_ceiling(100, 2048, 1), microseconds(40'000)) << "the default 1:100";
  EXPECT_EQ(nap_ceiling(100, 2048, 2), microseconds(38'400)) << "two CPUs on one queue";
  EXPECT_EQ(nap_ceiling(100, 2048, 64), microseconds(10'000)) << "a large node on one worker: as before";
  EXPECT_EQ(nap_ceiling(0, 2048, 1), microseconds(40'000)) << "control copies only";
  microseconds last{0};
  for (std::uint32_t n : {1u, 5u, 10u, 20u, 30u, 50u, 100u, 1000u}) {
    const microseconds c = nap_ceiling(n, 2048, 2);
    EXPECT_GE(c, last) << "1:" << n;
    // A burst of 2 Mpps on each of the two CPUs at 1:N fills at most three
    // quarters of the ring within one nap at the ceiling (from 1:27 on,
    // where 10 ms holds it).
    if (n >= 27) {
      EXPECT_LE(2 * 2e6 / n * static_cast<double>(c.count()) / 1e6, 2048 * 0.75 + 1) << "1:" << n;
    }
    last = c;
  }
  EXPECT_LT(nap_ceiling(20, 1024, 1), nap_ceiling(20, 2048, 1)) << "a smaller ring fills sooner";
}

// Wake-ups of a worker fed `per_second` samples for `seconds`, at the nap
// ceiling of 1:`rate`.
std::uint64_t wakeups_at(std::uint32_t rate, double per_second, double seconds, std::uint64_t* lost) {
  auto source = std::make_unique<SteadySource>(per_second, 2048);
  SteadySource* src = source.get();
  auto stream =
      std::make_unique<datapath::SampleStream>(std::move(source), nullptr, datapath::SampleStream::Mode::kDirect, rate);
  WorkerOptions o;
  o.table.max_flows = 1024;
  o.max_nap = nap_ceiling(rate, 2048, 1);
  capture_api::CaptureTap tap;
  auto w = Worker::create(std::move(stream), o, tap);
  EXPECT_TRUE(w) << w.error().message();
  if (!w) return 0;
  (*w)->start();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  auto r = (*w)->collect(std::chrono::milliseconds(2000));
  (*w)->stop();
  *lost = src->lost();
  EXPECT_TRUE(r.has_value());
  return r ? r->wakeups : 0;
}

TEST(WorkerNap, ATrickleOfSamplesWakesTheWorkerAboutOncePerCeiling) {
  // 800 samples a second, as a CPU under the default copy budget sends:
  // 32 a nap at 40 ms, under kNapLow, so the nap stays at its ceiling.
  std::uint64_t lost = 0;
  const std::uint64_t w = wakeups_at(100, 800, 1.2, &lost);
  // 1.2 s at 40 ms is 30 naps, plus the few of the nap's climb from 10 ms;
  // at the former 10 ms ceiling it was 120. A slow machine wakes less.
  EXPECT_LE(w, 45u);
  EXPECT_GT(w, 0u);
  EXPECT_EQ(lost, 0u) << "32 frames a nap fit the ring";
}

}  // namespace
}  // namespace netring::agent
