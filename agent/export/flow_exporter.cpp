#include "agent/export/flow_exporter.hpp"

#include <net/if.h>

#include <cerrno>

#include "agent/log.hpp"

namespace netring::agent::exporter {

namespace {

constexpr std::chrono::milliseconds kPoll{250};

ipfix::FlowEndReason ipfix_reason(FlowEndReason r) {
  switch (r) {
    case FlowEndReason::kIdleTimeout: return ipfix::FlowEndReason::kIdleTimeout;
    case FlowEndReason::kActiveTimeout: return ipfix::FlowEndReason::kActiveTimeout;
    case FlowEndReason::kEvicted: return ipfix::FlowEndReason::kLackOfResources;
    case FlowEndReason::kNone: break;
  }
  return ipfix::FlowEndReason::kForcedEnd;
}

std::uint32_t export_time() {
  return static_cast<std::uint32_t>(realtime_ns() / 1'000'000'000);
}

std::size_t templates_size(const std::vector<ipfix::Template>& ts) {
  std::size_t n = ipfix::kMessageHeaderLength + ipfix::kSetHeaderLength;
  for (const auto& t : ts) n += t.encoded_size();
  return n;
}

}  // namespace

FlowExporter::FlowExporter(ExportOptions opts, const SnapshotProvider& provider,
                           std::unique_ptr<MessageTransport> transport)
    : opts_(std::move(opts)),
      provider_(provider),
      transport_(transport ? std::move(transport) : make_transport(opts_)),
      layout_(opts_.fields, opts_.enterprise_number),
      writer_(opts_.max_message_size),
      templates_writer_(templates_size(layout_.templates())) {}

FlowExporter::~FlowExporter() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void FlowExporter::start() {
  thread_ = std::thread([this] { run(); });
}

void FlowExporter::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  final_round(*provider_.snapshot(), Clock::now());
}

void FlowExporter::run() {
  std::uint64_t generation = 0;
  auto next_active = Clock::now() + opts_.active_interval;
  for (;;) {
    auto snap = provider_.wait_newer(generation, kPoll);
    {
      std::lock_guard lk(mu_);
      if (stopping_) return;  // stop() does the last round
    }
    const auto now = Clock::now();
    const bool newer = snap->generation != generation;
    generation = snap->generation;
    bool active = false;
    if (newer && opts_.active_interval.count() > 0 && now >= next_active) {
      active = true;
      next_active += opts_.active_interval;
      if (next_active <= now) next_active = now + opts_.active_interval;
    }
    round(*snap, active, now);
  }
}

void FlowExporter::enqueue_ended(std::span<const FlowView> ended) {
  std::lock_guard lk(queue_mu_);
  const std::size_t room = opts_.queue_size > queue_.size() ? opts_.queue_size - queue_.size() : 0;
  const std::size_t take = std::min(room, ended.size());
  queue_.insert(queue_.end(), ended.begin(), ended.begin() + static_cast<std::ptrdiff_t>(take));
  if (take < ended.size()) records_queue_full_ += ended.size() - take;
}

void FlowExporter::round(const AgentSnapshot& snap, bool active, Clock::time_point now) {
  now_ = now;
  drain_ended();
  if (active) {
    for (const FlowView& f : snap.flows)
      if (auto c = ledger_.active(f)) add(f, *c);
    ledger_.commit();
  }
  flush(now);
  // An idle exporter still refreshes by time (and sends them once at
  // start): the other reasons ride on the next message with records.
  if (opts_.transport == Transport::kUdp && (!templates_ever_ || now - templates_at_ >= opts_.template_refresh)) {
    send_templates_only(now);
  } else if (opts_.transport == Transport::kTcp && !transport_->connected()) {
    ensure_session(now);  // an idle exporter connects too, and sends the templates
  }
  ifnames_.clear();
}

void FlowExporter::final_round(const AgentSnapshot& snap, Clock::time_point now) {
  now_ = now;
  drain_ended();
  for (const FlowView& f : snap.flows) add(f, ledger_.ended(f, ipfix::FlowEndReason::kForcedEnd));
  flush(now);
  ifnames_.clear();
}

void FlowExporter::drain_ended() {
  {
    std::lock_guard lk(queue_mu_);
    draining_.swap(queue_);
  }
  for (const FlowView& f : draining_) add(f, ledger_.ended(f, ipfix_reason(f.end_reason)));
  draining_.clear();  // keeps its capacity for the next swap
}

std::string_view FlowExporter::interface_name(const FlowView& f) {
  const std::uint32_t ifx = f.ingress_ifindex ? f.ingress_ifindex : f.egress_ifindex;
  if (ifx == 0 || !opts_.fields.interfaces) return {};
  auto [it, inserted] = ifnames_.try_emplace(ifx);
  if (inserted) {
    char buf[IF_NAMESIZE] = {};
    if (::if_indextoname(ifx, buf)) it->second = buf;
  }
  return it->second;
}

void FlowExporter::begin_message() {
  writer_.begin(export_time(), sequence_.current(), opts_.observation_domain);
  message_has_templates_ = false;
  if (templates_due(now_)) message_has_templates_ = writer_.add_templates(layout_.templates());
}

void FlowExporter::add(const FlowView& f, const RecordCounts& c) {
  if (!writer_.started()) begin_message();
  const std::string_view name = interface_name(f);
  auto write = [&](ipfix::Encoder& e) { layout_.encode(e, f, c, name); };
  const std::uint16_t tid = FlowLayout::template_for(f);
  if (writer_.add_record(tid, write)) return;
  flush(now_);
  begin_message();
  if (!writer_.add_record(tid, write)) ++records_too_large_;
}

void FlowExporter::flush(Clock::time_point now) {
  if (!writer_.started()) return;
  const std::uint32_t records = writer_.data_records();
  const bool with_templates = message_has_templates_;
  auto msg = writer_.finish();
  if (records == 0 && !with_templates) return;
  transmit(msg, records, with_templates, now);
}

bool FlowExporter::templates_due(Clock::time_point now) const {
  if (opts_.transport == Transport::kTcp) return false;  // once per connection, by ensure_session()
  if (!templates_ever_ || clean_sends_needed_ > 0) return true;
  if (now - templates_at_ >= opts_.template_refresh) return true;
  return opts_.template_refresh_messages > 0 && messages_since_templates_ >= opts_.template_refresh_messages;
}

bool FlowExporter::ensure_session(Clock::time_point now) {
  auto s = transport_->open_session();
  connected_.store(transport_->connected());
  if (!s) {
    note_error(s.error());
    return false;
  }
  if (*s && opts_.transport == Transport::kTcp) {
    if (connects_.load() > 0) ++reconnects_;
    ++connects_;
    log::info("ipfix collector connected", {{"collector", opts_.host + ":" + std::to_string(opts_.port)}});
    send_templates_only(now);  // a new Transport Session starts with the templates
    return transport_->connected();
  }
  return true;
}

void FlowExporter::send_templates_only(Clock::time_point now) {
  templates_writer_.begin(export_time(), sequence_.current(), opts_.observation_domain);
  templates_writer_.add_templates(layout_.templates());
  auto msg = templates_writer_.finish();
  if (opts_.transport == Transport::kTcp && !transport_->connected()) {
    ensure_session(now);  // sends this same message itself on a new connection
    return;
  }
  transmit(msg, 0, true, now);
}

void FlowExporter::transmit(std::span<const std::uint8_t> msg, std::uint32_t records, bool with_templates,
                            Clock::time_point now) {
  if (!ensure_session(now)) {
    sequence_.advance(records);  // the collector sees these records as missing
    ++send_errors_;
    records_send_failed_ += records;
    if (opts_.transport == Transport::kUdp) clean_sends_needed_ = 2;
    return;
  }
  send_now(msg, records, with_templates, now);
}

void FlowExporter::send_now(std::span<const std::uint8_t> msg, std::uint32_t records, bool with_templates,
                            Clock::time_point now) {
  auto r = transport_->send(msg);
  sequence_.advance(records);
  if (transport_->take_refusals() > 0) {
    // The collector's host answered an earlier datagram (on loopback and a
    // LAN, the previous one) with port unreachable: it went out and nobody
    // read it. The collector may come back without templates.
    records_unreachable_ += last_sent_records_;
    clean_sends_needed_ = 2;
  }
  last_sent_records_ = 0;
  if (r) {
    ++messages_;
    records_ += records;
    bytes_ += msg.size();
    if (with_templates) {
      ++template_messages_;
      templates_at_ = now;
      templates_ever_ = true;
      messages_since_templates_ = 0;
    } else {
      ++messages_since_templates_;
    }
    if (clean_sends_needed_ > 0) --clean_sends_needed_;
    last_sent_records_ = records;
  } else {
    note_error(r.error());
    ++send_errors_;
    records_send_failed_ += records;
    if (opts_.transport == Transport::kUdp) clean_sends_needed_ = 2;
  }
  unacked_lost_ += transport_->take_unacked_lost();
  connected_.store(transport_->connected());
}

void FlowExporter::note_error(const Error& e) {
  std::lock_guard lk(error_mu_);
  if (last_error_ != e.message()) log::warn("ipfix export", {{"error", e.message()}});
  last_error_ = e.message();
  last_error_ns_ = realtime_ns();
}

FlowExportStatus FlowExporter::status() const {
  FlowExportStatus s;
  s.enabled = true;
  s.collector = opts_.host.find(':') != std::string::npos ? "[" + opts_.host + "]:" + std::to_string(opts_.port)
                                                          : opts_.host + ":" + std::to_string(opts_.port);
  s.transport = to_string(opts_.transport);
  s.connected = connected_.load();
  s.messages_sent = messages_.load();
  s.records_sent = records_.load();
  s.bytes_sent = bytes_.load();
  s.template_messages = template_messages_.load();
  s.send_errors = send_errors_.load();
  s.records_send_failed = records_send_failed_.load();
  s.records_unreachable = records_unreachable_.load();
  s.records_queue_full = records_queue_full_.load();
  s.records_too_large = records_too_large_.load();
  s.connects = connects_.load();
  s.reconnects = reconnects_.load();
  s.unacked_bytes_lost = unacked_lost_.load();
  std::lock_guard lk(error_mu_);
  s.last_error = last_error_;
  s.last_error_ns = last_error_ns_;
  return s;
}

void FlowExporter::fill_status(AgentStatus& st) const {
  st.flow_export = status();
}

}  // namespace netring::agent::exporter
