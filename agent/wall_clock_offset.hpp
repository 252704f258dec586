// CLOCK_REALTIME - CLOCK_MONOTONIC, the offset that turns flow times
// (monotonic) into the wall-clock times the API shows. Read fresh each
// round, the two clock reads are some tens of nanoseconds apart by a varying
// amount, so a flow's first_seen/last_seen would change in every snapshot
// although the flow did not (clients that compare answers, or key rows by
// first_seen as the page does, would see a new flow each time). The held
// offset only moves when the clock really moved: a step, or NTP's slew
// accumulated past the tolerance.
//
// A reading is bracketed by two monotonic reads and the tightest of a few
// tries is kept: a thread preempted between its two reads (a loaded node,
// milliseconds) would otherwise read an offset off by the preemption and
// move every flow's times by it.
#pragma once

#include <time.h>

#include <cstdint>

namespace netring::agent {

class WallClockOffset {
 public:
  static constexpr std::int64_t kTolerance = 1'000'000;  // 1 ms

  // The offset to use this round, given this round's reading.
  std::int64_t update(std::int64_t fresh) {
    const std::int64_t d = fresh - held_;
    if (!has_ || d > kTolerance || d < -kTolerance) {
      held_ = fresh;
      has_ = true;
    }
    return held_;
  }
  std::int64_t value() const { return held_; }

  // CLOCK_REALTIME - CLOCK_MONOTONIC now, from the tightest of `tries`
  // bracketed reads (the realtime read set against the middle of its bracket).
  static std::int64_t read(int tries = 3) {
    std::int64_t best = 0, best_span = INT64_MAX;
    for (int i = 0; i < tries; ++i) {
      const std::int64_t m0 = ns(CLOCK_MONOTONIC), r = ns(CLOCK_REALTIME), m1 = ns(CLOCK_MONOTONIC);
      if (m1 - m0 < best_span) {
        best_span = m1 - m0;
        best = r - (m0 + (m1 - m0) / 2);
      }
    }
    return best;
  }

 private:
  std::int64_t held_ = 0;
  bool has_ = false;

  static std::int64_t ns(clockid_t c) {
    timespec ts{};
    clock_gettime(c, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
  }
};

}  // namespace netring::agent
