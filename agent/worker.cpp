#include "agent/worker.hpp"

#include <netinet/in.h>
#include <time.h>

#include <algorithm>
#include <thread>

#include "agent/heap.hpp"
#include "agent/log.hpp"

namespace netring::agent {

namespace {

capture::Direction to_capture(datapath::SampleDirection d) {
  return d == datapath::SampleDirection::kIngress ? capture::Direction::kIngress : capture::Direction::kEgress;
}
flow::Direction to_flow(datapath::SampleDirection d) {
  return d == datapath::SampleDirection::kIngress ? flow::Direction::kIngress : flow::Direction::kEgress;
}

// Timed-out flows are looked for a slice of the table at a time: a full
// sweep of a big table in one go would pause the worker for milliseconds,
// and a slice every loop turn (a turn per nap, hundreds a second) costs more
// than the samples at a few thousand flows. Slices of at least
// kExpireMinSlots and 1/kExpireSlices of the table sweep it once per sweep
// period: a tenth of the shorter timeout, at least 1 s and at most 5 s, so a
// flow ends at most 10 % after its timeout (the default 30 s idle timeout:
// a sweep every 3 s). Each sweep reads every live entry, out of cache: at
// 10k flows a sweep a second was a tenth of a worker's CPU.
constexpr std::size_t kExpireSlices = 20;
constexpr std::size_t kExpireMinSlots = 4096;
std::uint64_t expire_every_ns(const flow::FlowTableConfig& t) {
  constexpr std::uint64_t kSec = 1'000'000'000;
  const std::uint64_t sweep = std::clamp(std::min(t.idle_timeout_ns, t.active_timeout_ns) / 10, kSec, 5 * kSec);
  return sweep / kExpireSlices;
}
constexpr int kWaitMs = 50;
// Naps without a frame before the worker blocks in poll() instead.
constexpr int kIdleNaps = 8;
// Frames one wake-up should find: the nap halves above kNapHigh, doubles
// below kNapLow (a 2048-descriptor ring then holds about eight naps' worth).
constexpr std::uint64_t kNapLow = 64, kNapHigh = 256;
constexpr std::chrono::microseconds kMinNap{50};

std::uint64_t monotonic_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace

std::chrono::microseconds nap_ceiling(std::uint32_t sample_rate, std::uint32_t ring_size,
                                      std::uint32_t cpus_per_queue) {
  constexpr std::chrono::microseconds kFloor{10'000}, kCeiling{40'000};
  constexpr std::uint64_t kBurstPps = 2'000'000;
  if (sample_rate == 0) return kCeiling;
  const std::uint64_t burst = kBurstPps * std::max<std::uint32_t>(1, cpus_per_queue);
  const std::uint64_t us = std::uint64_t{ring_size} * 3 / 4 * sample_rate * 1'000'000 / burst;
  return std::clamp(std::chrono::microseconds(static_cast<std::int64_t>(std::min<std::uint64_t>(us, 1'000'000))),
                    kFloor, kCeiling);
}

Result<std::unique_ptr<Worker>> Worker::create(std::unique_ptr<datapath::SampleStream> stream,
                                               const WorkerOptions& opts, capture_api::CaptureTap& tap) {
  // The export callback needs the worker's address, which exists only after
  // construction: it is bound through a pointer filled right after.
  auto self_slot = std::make_shared<Worker*>(nullptr);
  auto table = flow::FlowTable::create(opts.table, [self_slot](const flow::FlowEntry& e, flow::EndReason why) {
    // Capacity is reserved, and the table evicts or expires only while
    // there is room (update_eviction_policy, expire's export cap): no
    // allocation, and nothing that leaves the table is dropped.
    Worker* w = *self_slot;
    w->ended_.push_back(e);
    w->ended_reasons_.push_back(why);
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
      ended_capacity_(std::max<std::size_t>(opts.ended_capacity, datapath::SampleStream::kBatch)),
      table_bytes_(table_.memory_bytes()),
      umem_bytes_(stream_->source().umem_bytes()),
      max_nap_(opts.max_nap),
      expire_every_ns_(expire_every_ns(opts.table)),
      control_(opts.control) {
  ended_.reserve(ended_capacity_);
  if (control_.dns) {
    dns_port_.assign(65536, false);
    for (std::uint16_t p : control_.dns_ports) dns_port_[p] = true;
  }
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

void Worker::update_eviction_policy() {
  // A batch evicts at most one flow per sample.
  table_.allow_eviction(ended_.size() + datapath::SampleStream::kBatch <= ended_capacity_);
}

void Worker::run() {
  std::chrono::microseconds nap = max_nap_ / 4;
  int idle_naps = 0;
  std::uint64_t since_wake = 0, last_expire_ns = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    update_eviction_policy();
    auto n = stream_->poll(samples_);
    if (!n) {
      if (poll_errors_++ == 0) log::warn("sample stream poll failed", {{"error", n.error().message()}});
      (void)stream_->wait(kWaitMs);
      continue;
    }
    if (*n > 0) {
      process(std::span<const datapath::Sample>(samples_.data(), *n));
      stream_->release();
      since_wake += *n;
      idle_naps = 0;
    }
    if (const std::uint64_t now = monotonic_now_ns(); now - last_expire_ns >= expire_every_ns_) {
      last_expire_ns = now;
      table_.expire(std::max(kExpireMinSlots, table_.slots() / kExpireSlices),
                    ended_capacity_ - std::min(ended_capacity_, ended_.size()));
    }
    if (requested_.load(std::memory_order_acquire)) report();
    if (*n == datapath::SampleStream::kBatch) continue;  // more are waiting: read on

    // The stream is drained. Sleep without poll(): poll() would wake at the
    // next frame, and at tens of thousands of samples a second the wake-ups
    // cost more than the samples.
    if (max_nap_.count() == 0 || idle_naps >= kIdleNaps) {
      (void)stream_->wait(kWaitMs);
    } else {
      if (since_wake > kNapHigh)
        nap = std::max(kMinNap, nap / 2);
      else if (since_wake < kNapLow)
        nap = std::min(max_nap_, nap * 2);
      if (since_wake == 0) ++idle_naps;
      std::this_thread::sleep_for(nap);
    }
    ++wakeups_;
    since_wake = 0;
  }
}

void Worker::process(std::span<const datapath::Sample> samples) {
  std::size_t ok = 0;
  // Samples sit in the ring, usually out of cache: load frames a few ahead
  // so their misses overlap the parsing of the ones before.
  constexpr std::size_t kFrameAhead = 8;
  for (std::size_t i = 0; i < std::min(kFrameAhead, samples.size()); ++i)
    flow::Parser::prefetch({samples[i].frame.data(), static_cast<std::uint32_t>(samples[i].frame.size())});
  std::uint64_t now = 0;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (i + kFrameAhead < samples.size()) {
      const auto& ahead = samples[i + kFrameAhead].frame;
      flow::Parser::prefetch({ahead.data(), static_cast<std::uint32_t>(ahead.size())});
    }
    const datapath::Sample& s = samples[i];
    // The mirror stamps CLOCK_MONOTONIC; the direct rung has no stamp.
    std::uint64_t ts = s.info.tstamp_ns;
    if (ts == 0) ts = now != 0 ? now : (now = monotonic_now_ns());
    views_[i] = capture::PacketView{.data = s.frame.data(),
                                    .len = static_cast<std::uint32_t>(s.frame.size()),
                                    .orig_len = s.info.orig_len,
                                    .timestamp_ns = ts,
                                    .ifindex = s.info.ifindex,
                                    .queue = 0,
                                    .direction = to_capture(s.info.direction)};
    // rate 0: the interface was unhooked meanwhile, nothing to stand for.
    if (s.info.rate == 0) continue;
    if (parser_.parse(flow::FrameView{s.frame.data(), static_cast<std::uint32_t>(s.frame.size())}, parsed_[ok]) !=
        flow::ParseStatus::kOk)
      continue;  // counted by the parser
    const std::uint32_t segs = s.info.gso_segs;
    const std::uint32_t hdr = parsed_[ok].hdr_len;
    if (s.info.forced)
      pick_control(s, parsed_[ok], ts);
    else
      max_drawn_rate_ = std::max(max_drawn_rate_, s.info.rate);
    infos_[ok] = flow::SampleInfo{.weight = s.info.weight(),  // 0 for a packet in the exact counts
                                  .timestamp_ns = ts,
                                  .ifindex = s.info.ifindex,
                                  .wire_len = s.info.orig_len + (segs > 1 ? (segs - 1) * hdr : 0),
                                  .direction = to_flow(s.info.direction),
                                  .segs = s.info.gso_segs};
    ++ok;
  }
  if (ok) table_.update_batch(std::span(parsed_.data(), ok), std::span(infos_.data(), ok));
  tap_.offer(std::span<const capture::PacketView>(views_.data(), samples.size()));
}

void Worker::pick_control(const datapath::Sample& s, const flow::ParsedPacket& p, std::uint64_t ts) {
  const flow::FlowKey& k = p.key;
  if (k.protocol != IPPROTO_TCP && k.protocol != IPPROTO_UDP) return;
  if (k.protocol == IPPROTO_TCP && control_.tcp_handshake && (p.tcp_flags & 0x17) != 0) {
    if (tcp_events_.size() < control_.max_events)
      tcp_events_.push_back(TcpControlEvent{k, ts, p.tcp_flags});
    else
      ++control_counters_.tcp_events_dropped;
  }
  if (!control_.dns || p.fragment || !(dns_port_[k.src_port] || dns_port_[k.dst_port])) return;
  // The payload ends where the IP packet does (Ethernet pads short frames).
  std::size_t end = s.frame.size();
  if (p.ip_len != 0) end = std::min<std::size_t>(end, std::size_t{p.l3_offset} + p.ip_len);
  if (p.hdr_len >= end) return;  // no payload: a bare SYN, ACK or FIN of DNS over TCP
  dns::Message m;
  const dns::ParseStatus st =
      dns::parse_message(s.frame.subspan(p.hdr_len, end - p.hdr_len), k.protocol == IPPROTO_TCP, m);
  ++control_counters_.dns_by_status[static_cast<std::size_t>(st)];
  if (!dns::header_valid(st)) return;
  if (dns_events_.size() < control_.max_events)
    dns_events_.push_back(DnsEvent{k, ts, m});
  else
    ++control_counters_.dns_events_dropped;
}

void Worker::add_exact(std::vector<ExactUpdate> updates) {
  std::lock_guard lk(mu_);
  if (pending_exact_.empty()) {
    pending_exact_ = std::move(updates);
  } else {
    pending_exact_.insert(pending_exact_.end(), updates.begin(), updates.end());
  }
}

void Worker::report() {
  // Off the hot path (once a second): copying may allocate.
  std::vector<ExactUpdate> exact;
  WorkerReport r;
  {
    std::lock_guard lk(mu_);
    exact.swap(pending_exact_);
    r.live.swap(spare_live_);
  }
  for (const ExactUpdate& u : exact) {
    table_.allow_eviction(ended_.size() < ended_capacity_);
    table_.update_exact(u.key, u.counts);
  }
  reserve_reused(r.live, table_.size());
  table_.for_each([&r](const flow::FlowEntry& e) { r.live.push_back(e); });
  // Copied out rather than swapped: the buffer is reserved for
  // ended_capacity_ flows (2 MiB by default), and a fresh one each second
  // was mapped here and unmapped by the publisher, usually for a few flows.
  r.ended.assign(ended_.begin(), ended_.end());
  r.ended_reasons.assign(ended_reasons_.begin(), ended_reasons_.end());
  ended_.clear();
  ended_reasons_.clear();
  r.overflow = table_.overflow();
  r.parser = parser_.counters();
  r.stream = stream_->stats();
  r.table = table_.stats();
  r.dns.swap(dns_events_);
  r.tcp.swap(tcp_events_);
  // Room for as many as the last period brought, so the hot path rarely grows them.
  dns_events_.reserve(std::min(control_.max_events, r.dns.size()));
  tcp_events_.reserve(std::min(control_.max_events, r.tcp.size()));
  r.control = control_counters_;
  r.poll_errors = poll_errors_;
  r.wakeups = wakeups_;
  r.max_drawn_rate = std::exchange(max_drawn_rate_, 0);
  {
    std::lock_guard lk(mu_);
    ready_ = std::move(r);
    requested_.store(false, std::memory_order_relaxed);
  }
  cv_.notify_all();
}

void Worker::recycle(std::vector<flow::FlowEntry> live) {
  release_if_large(live);
  std::lock_guard lk(mu_);
  if (live.capacity() > spare_live_.capacity()) spare_live_ = std::move(live);
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
