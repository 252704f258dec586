// The rate a flow's interval must allow for unseen packets at.
//
// A fixed 1:N bounds what no sample of a flow shows by N (estimator.hpp,
// unseen_variance). Under a copy budget the sampler draws at N times a scale
// that follows the load, and a flow's unseen packets may have been drawn at
// any rate in force while its record lived (at most the tables' active
// timeout). The scale is seen only through the copies it drew, and a scaled
// CPU still draws hundreds a second, so the largest rate the samples of each
// round carried, kept over that span, stands for it.
#pragma once

#include <cstdint>
#include <deque>
#include <utility>

namespace netring::flow {

class UnseenRate {
 public:
  explicit UnseenRate(std::uint64_t window_ns) : window_ns_(window_ns) {}

  // Adds a round's largest drawn rate (0: no drawn sample) at `now_ns`
  // (non-decreasing); returns the largest of the rounds within the window.
  std::uint32_t note(std::uint64_t now_ns, std::uint32_t rate) {
    while (!rounds_.empty() && rounds_.back().second <= rate) rounds_.pop_back();
    rounds_.emplace_back(now_ns, rate);
    while (rounds_.front().first + window_ns_ < now_ns) rounds_.pop_front();
    return rounds_.front().second;
  }

 private:
  std::uint64_t window_ns_;
  // (round's time, its rate), rates falling from front to back: a round
  // whose rate a later one matches can never be the largest again. The
  // back is always the latest round, so the deque is never empty after note.
  std::deque<std::pair<std::uint64_t, std::uint32_t>> rounds_;
};

}  // namespace netring::flow
