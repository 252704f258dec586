#include "agent/capture_ports.hpp"

#include "agent/agent_options.hpp"
#include "agent/log.hpp"

namespace netring::agent {

namespace {

constexpr const char* kStage = "capture_port";

// A port's losses per stage, from its workers' stream counters and its
// program's misses. Frames the program never handed on (no socket on the
// queue) and frames the kernel could not queue are lost samples; the fill
// ring's empty count says why some of rx_dropped happened (inside it).
std::vector<LossCounter> losses_of(const std::vector<WorkerReport>& reports, const datapath::CapturePortCounts& c,
                                   capture::Backend backend) {
  std::uint64_t ring_full = 0, drops = 0, fill_empty = 0, invalid = 0;
  for (const auto& r : reports) {
    ring_full += r.stream.capture.ring_full;
    drops += r.stream.capture.kernel_drops;
    fill_empty += r.stream.capture.fill_empty;
    invalid += r.stream.capture.invalid;
  }
  if (backend == capture::Backend::kAfXdp) {
    // capture::Stats.kernel_drops = rx_dropped + rx_ring_full on AF_XDP.
    return {{kStage, "redirect_miss", c.redirect_miss, true},
            {kStage, "xsk_ring_full", ring_full, true},
            {kStage, "kernel_drop", drops > ring_full ? drops - ring_full : 0, true},
            {kStage, "fill_ring_empty", fill_empty, false},
            {kStage, "invalid_descriptor", invalid, true}};
  }
  // TPACKET_V3: tp_drops (ring full); freeze_q_cnt counts freezes, not frames.
  return {{kStage, "kernel_drop", drops, true}};
}

void add_losses(std::map<std::string, LossCounter>& into, const std::vector<LossCounter>& l) {
  for (const auto& x : l) {
    auto [it, inserted] = into.try_emplace(x.reason, x);
    if (!inserted) it->second.count += x.count;
  }
}

}  // namespace

Result<void> CapturePorts::attach(std::uint32_t ifindex, const std::string& name) {
  {
    std::lock_guard lk(mu_);
    if (ports_.contains(ifindex)) return ok();
  }
  datapath::CapturePortOptions o = opts_.port;
  o.interface = name;
  auto opened = datapath::open_capture_port(o);
  if (!opened) return std::move(opened).take_error();
  auto p = std::make_shared<Port>();
  p->ifindex = ifindex;
  p->name = name;
  p->port = std::move(opened).value();
  const WorkerOptions wo = for_workers(opts_.worker, p->port.streams.size());
  for (auto& s : p->port.streams) {
    auto w = Worker::create(std::move(s), wo, tap_);
    if (!w) return std::move(w).take_error();  // the workers made so far stop with p
    p->workers.push_back(std::move(w).value());
  }
  p->port.streams.clear();
  p->last.resize(p->workers.size());
  for (auto& w : p->workers) w->start();
  log::info("capture port attached", {{"interface", name},
                                      {"ifindex", std::to_string(ifindex)},
                                      {"backend", capture::to_string(p->port.backend)},
                                      {"xdp_mode", p->port.xdp_mode.empty() ? "none" : p->port.xdp_mode},
                                      {"reason", p->port.reason.empty() ? "native XDP" : p->port.reason},
                                      {"queues", std::to_string(p->port.queues)},
                                      {"zero_copy", p->port.zero_copy},
                                      {"sample_rate", std::to_string(opts_.port.sample_rate)}});
  std::lock_guard lk(mu_);
  ports_.emplace(ifindex, std::move(p));
  return ok();
}

void CapturePorts::release(std::uint32_t ifindex) {
  std::shared_ptr<Port> p;
  {
    std::lock_guard lk(mu_);
    auto it = ports_.find(ifindex);
    if (it == ports_.end()) return;
    p = std::move(it->second);
    ports_.erase(it);
  }
  // A last report from each worker: its flows end with the port, and its
  // counters stay in the totals.
  std::vector<WorkerReport> finals;
  datapath::CapturePortCounts counts;
  {
    std::lock_guard lk(p->mu);
    for (std::size_t i = 0; i < p->workers.size(); ++i) {
      auto rep = p->workers[i]->collect(std::chrono::milliseconds(500));
      WorkerReport r = rep ? std::move(*rep) : std::move(p->last[i]);
      p->workers[i]->stop();
      finals.push_back(std::move(r));
    }
    if (auto c = p->port.counter->read(); c) counts = *c;
    p->workers.clear();  // the streams, then the program (their keepalive), go with the workers
  }
  std::lock_guard lk(mu_);
  for (auto& r : finals) {
    released_ended_.insert(released_ended_.end(), r.ended.begin(), r.ended.end());
    released_reasons_.insert(released_reasons_.end(), r.ended_reasons.begin(), r.ended_reasons.end());
    released_live_.insert(released_live_.end(), r.live.begin(), r.live.end());
    released_samples_ += r.stream.samples;
    for (std::size_t i = 0; i < r.parser.by_status.size(); ++i)
      released_totals_.parser.by_status[i] += r.parser.by_status[i];
    released_totals_.table.evictions += r.table.evictions;
    released_totals_.table.overflow_updates += r.table.overflow_updates;
    released_totals_.overflow.merge(r.overflow);
  }
  add_losses(released_losses_, losses_of(finals, counts, p->port.backend));
  log::info("capture port released", {{"interface", p->name}, {"ifindex", std::to_string(ifindex)}});
}

void CapturePorts::release_all() {
  std::vector<std::uint32_t> all;
  {
    std::lock_guard lk(mu_);
    for (const auto& [ifindex, p] : ports_) all.push_back(ifindex);
  }
  for (auto ifindex : all) release(ifindex);
}

std::size_t CapturePorts::size() const {
  std::lock_guard lk(mu_);
  return ports_.size();
}

void CapturePorts::collect_port(Port& p, std::chrono::milliseconds timeout, CaptureRound& round) {
  std::lock_guard lk(p.mu);
  const std::size_t first = round.reports.size();
  for (std::size_t i = 0; i < p.workers.size(); ++i) {
    if (auto rep = p.workers[i]->collect(timeout)) {
      round.reports.push_back(*rep);
      p.last[i] = std::move(*rep);
      p.last[i].ended.clear();  // reported once
      p.last[i].ended_reasons.clear();
    } else {
      // Late: its flows as they were at its last report, so the metrics
      // neither lose nor recount them (as the publisher does for mirror workers).
      round.reports.push_back(p.last[i]);
    }
    round.table_bytes.push_back(p.workers[i]->table_bytes());
    round.umem_bytes.push_back(p.workers[i]->umem_bytes());
  }
  const std::vector<WorkerReport> mine(round.reports.begin() + static_cast<std::ptrdiff_t>(first), round.reports.end());
  datapath::CapturePortCounts c;
  if (auto r = p.port.counter->read(); r)
    c = *r;
  else
    log::debug("capture port counters", {{"interface", p.name}, {"error", r.error().message()}});
  InterfaceCounters ic;
  ic.ifindex = p.ifindex;
  ic.name = p.name;
  ic.role = "capture-port";
  ic.backend = p.port.backend == capture::Backend::kAfXdp ? "afxdp" : "afpacket";
  ic.hook = p.port.backend == capture::Backend::kAfXdp ? "xdp" : "tpacket";
  ic.rx_packets = c.frames;
  ic.rx_bytes = c.bytes;
  ic.rx_wire_bytes = c.bytes;  // whole frames as they arrived: wire bytes
  CapturePortState st;
  st.xdp_mode = p.port.xdp_mode;
  st.reason = p.port.reason;
  st.queues = p.port.queues;
  st.sample_rate = opts_.port.sample_rate;
  st.zero_copy = p.port.zero_copy;
  st.sampled_out = c.sampled_out;
  for (const auto& r : mine) st.sampled += r.stream.samples;
  st.losses = losses_of(mine, c, p.port.backend);
  round.samples += st.sampled;
  ic.capture = std::move(st);
  round.interfaces.push_back(std::move(ic));
}

CaptureRound CapturePorts::collect(std::chrono::milliseconds timeout) {
  std::vector<std::shared_ptr<Port>> ports;
  CaptureRound round;
  {
    std::lock_guard lk(mu_);
    for (const auto& [ifindex, p] : ports_) ports.push_back(p);
    // Released ports: their flows end once, their counters stay (they are
    // running totals to the publisher).
    WorkerReport gone = released_totals_;
    // The flows that ended with a reason first (ended_reasons is parallel
    // to them), then those still live at release: no reason, a forced end.
    gone.ended.swap(released_ended_);
    gone.ended_reasons.swap(released_reasons_);
    gone.ended.insert(gone.ended.end(), released_live_.begin(), released_live_.end());
    released_live_.clear();
    round.reports.push_back(std::move(gone));
    round.samples = released_samples_;
  }
  for (const auto& p : ports) collect_port(*p, timeout, round);
  std::map<std::string, LossCounter> losses;
  {
    std::lock_guard lk(mu_);
    losses = released_losses_;
  }
  for (const auto& ic : round.interfaces) add_losses(losses, ic.capture->losses);
  for (auto& [reason, l] : losses) round.losses.push_back(std::move(l));
  return round;
}

}  // namespace netring::agent
