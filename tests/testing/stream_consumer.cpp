#include "tests/testing/stream_consumer.hpp"

#include <array>

namespace netring::testing {

StreamConsumer::StreamConsumer(std::vector<std::unique_ptr<netring::datapath::SampleStream>> streams)
    : streams_(std::move(streams)) {
  thread_ = std::thread([this] { loop(); });
}

StreamConsumer::~StreamConsumer() {
  stop();
}

void StreamConsumer::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void StreamConsumer::drain(int quiet_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point last;
    {
      std::lock_guard l(mu_);
      last = last_rx_;
    }
    if (now >= deadline || now - last >= std::chrono::milliseconds(quiet_ms)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop();
}

std::vector<CapturedSample> StreamConsumer::samples() {
  std::lock_guard l(mu_);
  return samples_;
}

netring::datapath::SampleStreamStats StreamConsumer::totals() {
  netring::datapath::SampleStreamStats t;
  for (auto& s : streams_) {
    auto st = s->stats();
    t.samples += st.samples;
    t.invalid += st.invalid;
    t.gaps += st.gaps;
    t.reordered += st.reordered;
    t.capture.kernel_drops += st.capture.kernel_drops;
  }
  return t;
}

void StreamConsumer::loop() {
  std::array<netring::datapath::Sample, netring::datapath::SampleStream::kBatch> batch{};
  // One last pass after stop() so nothing already queued is left behind.
  for (bool last = false; !last;) {
    last = stop_.load();
    bool any = false;
    for (auto& st : streams_) {
      auto n = st->poll(batch);
      if (n && *n > 0) {
        any = true;
        std::lock_guard l(mu_);
        last_rx_ = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < *n; ++i) {
          const auto* f = reinterpret_cast<const std::uint8_t*>(batch[i].frame.data());
          samples_.push_back({batch[i].info, std::vector<std::uint8_t>(f, f + batch[i].frame.size())});
        }
      }
      st->release();
    }
    if (any)
      last = false;  // keep draining while frames come
    else if (!last)
      (void)streams_[0]->wait(20);
  }
}

}  // namespace netring::testing
