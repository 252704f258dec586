// Exports flows as IPFIX (RFC 7011) to one collector, on a thread of its own.
//
// Input: the flows the publisher publishes. Ended flows come through
// enqueue_ended() (the publisher's hook, called before the snapshot that no
// longer holds them is published), into a bounded queue: the publisher never
// waits for the network, and what does not fit is dropped and counted. Live
// flows are read from the SnapshotStore, every active interval.
//
// Output: one record per ended flow (its growth since its previous record,
// flowEndReason from the flow table: idle, active timeout, evicted) and one
// per live flow that grew, every active interval (flowEndReason 0x02, as
// NetFlow/IPFIX meters report a long flow periodically); at stop(), every
// live flow once more with flowEndReason 0x04 (forced end). Templates go at
// the start of every TCP connection, and on UDP with the first message,
// every template-refresh period or number of messages, and with every
// message after the kernel reported the collector unreachable until two
// sends in a row went through (so a restarted collector can read the first
// message it gets).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "agent/export/export_options.hpp"
#include "agent/export/flow_layout.hpp"
#include "agent/export/flow_ledger.hpp"
#include "agent/export/transport.hpp"
#include "agent/model.hpp"
#include "pkg/ipfix/message_writer.hpp"
#include "pkg/ipfix/sequence.hpp"

namespace netring::agent::exporter {

class FlowExporter {
 public:
  using Clock = std::chrono::steady_clock;

  // `transport` may be given (tests); by default it follows opts.transport.
  FlowExporter(ExportOptions opts, const SnapshotProvider& provider,
               std::unique_ptr<MessageTransport> transport = nullptr);
  ~FlowExporter();
  FlowExporter(const FlowExporter&) = delete;
  FlowExporter& operator=(const FlowExporter&) = delete;

  void start();
  // Stops the thread, then exports what is queued and every live flow of the
  // current snapshot (forced end), and sends it.
  void stop();

  // The publisher's hook: copies the flows into the queue (no allocation
  // once the queue has grown to its size; a short lock, never the network).
  void enqueue_ended(std::span<const FlowView> ended);
  // The publisher's status hook.
  void fill_status(AgentStatus& st) const;
  FlowExportStatus status() const;

  // One round on the caller's thread (the thread's loop body; tests and the
  // benchmark drive it directly): the queued ended flows, then, when
  // `active` is set, the live flows of `snap`; then the messages go out.
  void round(const AgentSnapshot& snap, bool active, Clock::time_point now);
  // Every live flow of `snap` with flowEndReason 0x04, then the messages go out.
  void final_round(const AgentSnapshot& snap, Clock::time_point now);

  const FlowLayout& layout() const { return layout_; }

 private:
  void run();
  void drain_ended();
  void add(const FlowView& f, const RecordCounts& c);
  void begin_message();
  // Sends the message being built, if it holds anything.
  void flush(Clock::time_point now);
  // A session to send on (TCP: connects, and sends the templates first on
  // a new connection). False: none now (counted by the caller).
  bool ensure_session(Clock::time_point now);
  void send_templates_only(Clock::time_point now);
  void transmit(std::span<const std::uint8_t> msg, std::uint32_t records, bool with_templates, Clock::time_point now);
  void send_now(std::span<const std::uint8_t> msg, std::uint32_t records, bool with_templates, Clock::time_point now);
  bool templates_due(Clock::time_point now) const;
  std::string_view interface_name(const FlowView& f);
  void note_error(const Error& e);

  ExportOptions opts_;
  const SnapshotProvider& provider_;
  std::unique_ptr<MessageTransport> transport_;
  FlowLayout layout_;

  // Exporter thread (or the caller of round()) only.
  FlowLedger ledger_;
  ipfix::MessageWriter writer_;
  ipfix::MessageWriter templates_writer_;  // templates-only messages
  Clock::time_point now_{};                // the current round's
  ipfix::SequenceNumber sequence_;
  bool message_has_templates_ = false;
  Clock::time_point templates_at_{};  // last time templates went out
  bool templates_ever_ = false;
  std::uint32_t messages_since_templates_ = 0;
  int clean_sends_needed_ = 0;
  std::uint32_t last_sent_records_ = 0;  // UDP: records of the last message the kernel took  // UDP: templates with
                                         // every message until this many sends went through
  std::vector<FlowView> draining_;
  std::unordered_map<std::uint32_t, std::string> ifnames_;  // this round's ifindex -> name

  // The queue (publisher thread in, exporter thread out).
  mutable std::mutex queue_mu_;
  std::vector<FlowView> queue_;

  // Counters (read by fill_status on the publisher's thread).
  std::atomic<std::uint64_t> messages_{0}, records_{0}, bytes_{0}, template_messages_{0}, send_errors_{0},
      records_send_failed_{0}, records_unreachable_{0}, records_queue_full_{0}, records_too_large_{0}, connects_{0},
      reconnects_{0}, unacked_lost_{0};
  std::atomic<bool> connected_{false};
  mutable std::mutex error_mu_;
  std::string last_error_;
  std::uint64_t last_error_ns_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace netring::agent::exporter
