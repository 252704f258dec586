// CLOCK_REALTIME - CLOCK_MONOTONIC, the offset that turns flow times
// (monotonic) into the wall-clock times the API shows. Read fresh each
// round, the two clock reads are some tens of nanoseconds apart by a varying
// amount, so a flow's first_seen/last_seen would change in every snapshot
// although the flow did not (clients that compare answers, or key rows by
// first_seen as the page does, would see a new flow each time). The held
// offset only moves when the clock really moved: a step, or NTP's slew
// accumulated past the tolerance.
#pragma once

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

 private:
  std::int64_t held_ = 0;
  bool has_ = false;
};

}  // namespace netring::agent
