#include "agent/worker.hpp"

#include <time.h>

#include <algorithm>

#include "agent/log.hpp"

namespace netring::agent {

namespace {

std::uint64_t realtime_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

capture::Direction to_capture(datapath::SampleDirection d) {
  return d == datapath::SampleDirection::kIngress ? capture::Direction::kIngress : capture::Direction::kEgress;
}

// Slots examined by expire() per loop turn: a full sweep of a big table in
// one go would pause the worker for milliseconds.
constexpr std::size_t kExpireSlotsPerTurn = 4096;
constexpr int kWaitMs = 50;

}  // namespace

Result<std::unique_ptr<Worker>> Worker::create(std::unique_ptr<datapath::SampleStream> stream,
                                               const WorkerOptions& opts, capture_api::CaptureTap& tap) {
  // The export callback needs the worker's address, which exists only after
  // construction: it is bound through a pointer filled right after.
  auto self_slot = std::make_shared<Worker*>(nullptr);
  auto table = flow::FlowTable::create(opts.table, [self_slot](const flow::FlowEntry& e, flow::EndReason why) {
    Worker* w = *self_slot;
    if (w->ended_.size() < w->ended_capacity_) {
      w->ended_.push_back(e);  // capacity reserved: no allocation
      w->ended_reasons_.push_back(why);
    } else {
      ++w->ended_dropped_;
    }
  });
  if (!table) return std::move(table).take_error();
  std::unique_ptr<Worker> w(new Worker(std::move(stream), std::move(table).value(), opts, tap));
  *self_slot = w.get();
  return w;
}

Worker::Worker(std::unique_ptr<datapath::SampleStream> stream, flow::FlowTable table, const WorkerOptions& opts,
               capture_api::CaptureTap& tap)
    : stream_(std::move(stream)),
      table_(std::move(table)),
      parser_(opts.parser),
      tap_(tap),
      ended_capacity_(opts.ended_capacity),
      table_bytes_(table_.memory_bytes()),
      umem_bytes_(stream_->source().umem_bytes()) {
  ended_.reserve(ended_capacity_);
  ended_reasons_.reserve(ended_capacity_);
}

Worker::~Worker() {
  stop();
}

void Worker::start() {
  thread_ = std::thread([this] { run(); });
}

void Worker::stop() {
  stop_.store(true, std::memory_order_relaxed);
  if (thread_.joinable()) thread_.join();
}

void Worker::run() {
  while (!stop_.load(std::memory_order_relaxed)) {
    auto n = stream_->poll(samples_);
    if (!n) {
      if (poll_errors_++ == 0) log::warn("sample stream poll failed", {{"error", n.error().message()}});
      (void)stream_->wait(kWaitMs);
    } else if (*n == 0) {
      (void)stream_->wait(kWaitMs);
    } else {
      process(std::span<const datapath::Sample>(samples_.data(), *n));
      stream_->release();
    }
    table_.expire(kExpireSlotsPerTurn);
    if (requested_.load(std::memory_order_acquire)) report();
  }
}

void Worker::process(std::span<const datapath::Sample> samples) {
  const std::uint64_t now = realtime_now_ns();
  std::size_t ok = 0;
  // Samples sit in the ring, usually out of cache: load frames a few ahead
  // so their misses overlap the parsing of the ones before.
  constexpr std::size_t kFrameAhead = 8;
  for (std::size_t i = 0; i < std::min(kFrameAhead, samples.size()); ++i)
    flow::Parser::prefetch({samples[i].frame.data(), static_cast<std::uint32_t>(samples[i].frame.size())});
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (i + kFrameAhead < samples.size()) {
      const auto& ahead = samples[i + kFrameAhead].frame;
      flow::Parser::prefetch({ahead.data(), static_cast<std::uint32_t>(ahead.size())});
    }
    const datapath::Sample& s = samples[i];
    views_[i] = capture::PacketView{.data = s.frame.data(),
                                    .len = static_cast<std::uint32_t>(s.frame.size()),
                                    .orig_len = s.info.orig_len,
                                    .timestamp_ns = now,
                                    .ifindex = s.info.ifindex,
                                    .queue = 0,
                                    .direction = to_capture(s.info.direction)};
    const double w = s.info.weight();
    if (w == 0.0) continue;  // interface unhooked meanwhile: nothing to stand for
    if (parser_.parse(flow::FrameView{s.frame.data(), static_cast<std::uint32_t>(s.frame.size())}, parsed_[ok]) !=
        flow::ParseStatus::kOk)
      continue;  // counted by the parser
    infos_[ok] = flow::SampleInfo{.weight = w,
                                  .timestamp_ns = 0,  // the table's clock (CLOCK_REALTIME), read once per batch
                                  .ifindex = s.info.ifindex,
                                  .wire_len = s.info.orig_len,
                                  .direction = to_capture(s.info.direction),
                                  .segs = s.info.gso_segs};
    ++ok;
  }
  if (ok) table_.update_batch(std::span(parsed_.data(), ok), std::span(infos_.data(), ok));
  tap_.offer(std::span<const capture::PacketView>(views_.data(), samples.size()));
}

void Worker::report() {
  // Off the hot path (once a second): copying allocates.
  WorkerReport r;
  r.live.reserve(table_.size());
  table_.for_each([&r](const flow::FlowEntry& e) { r.live.push_back(e); });
  r.ended.swap(ended_);
  r.ended_reasons.swap(ended_reasons_);
  ended_.reserve(ended_capacity_);
  ended_reasons_.reserve(ended_capacity_);
  r.parser = parser_.counters();
  r.stream = stream_->stats();
  r.table = table_.stats();
  r.ended_dropped = ended_dropped_;
  r.poll_errors = poll_errors_;
  {
    std::lock_guard lk(mu_);
    ready_ = std::move(r);
    requested_.store(false, std::memory_order_relaxed);
  }
  cv_.notify_all();
}

std::optional<WorkerReport> Worker::collect(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  if (!ready_) {
    requested_.store(true, std::memory_order_release);
    cv_.wait_for(lk, timeout, [this] { return ready_.has_value(); });
  }
  std::optional<WorkerReport> out;
  out.swap(ready_);
  return out;
}

}  // namespace netring::agent
