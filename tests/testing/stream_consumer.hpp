// Drains a Datapath's sample streams on a background thread for data-path
// tests, keeping a copy of every sample.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "pkg/datapath/sample_stream.hpp"
#include "tests/testing/mirror_reader.hpp"

namespace netring::testing {

class StreamConsumer {
 public:
  explicit StreamConsumer(std::vector<std::unique_ptr<netring::datapath::SampleStream>> streams);
  ~StreamConsumer();
  StreamConsumer(const StreamConsumer&) = delete;
  StreamConsumer& operator=(const StreamConsumer&) = delete;

  void stop();
  // Waits until nothing arrived for quiet_ms (30 s at most), then stops.
  void drain(int quiet_ms = 300);
  std::vector<CapturedSample> samples();
  netring::datapath::SampleStreamStats totals();

 private:
  void loop();
  std::vector<std::unique_ptr<netring::datapath::SampleStream>> streams_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<CapturedSample> samples_;
  std::chrono::steady_clock::time_point last_rx_ = std::chrono::steady_clock::now();
};

}  // namespace netring::testing
