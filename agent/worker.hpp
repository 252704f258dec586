// One capture worker per sample stream (per mirror queue): samples -> flow
// parser -> the worker's own flow table, and a copy to the capture API's tap.
// The flows of a queue are the flows whose samples the sampler sends there
// (kflow::flow_key_hash), and the publisher hands the worker the exact
// kernel counts of the same flows (add_exact), so a flow lives in one table.
//
// The table belongs to the worker thread alone, so the hot path takes no lock
// and allocates nothing (fixed arrays per batch). Readers ask for a copy:
// request_snapshot() raises a flag that the worker checks between batches;
// it then applies the exact counts handed to it, copies its table (the
// occupied entries, one flat array: 128 bytes a flow, no per-node
// allocation), counters and the flows that left the table into a
// WorkerReport under a mutex, where the publisher collects it.
//
// Waking up costs more than reading a frame: the worker does not sleep in
// poll() after every batch. After a short batch it naps for a while that
// adapts to how fast frames arrive (the ring holds several naps' worth), so
// it drains a few hundred frames per wake-up instead of one; only when the
// stream has been idle for a while does it block in poll().
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "agent/capture_api/capture_tap.hpp"
#include "pkg/datapath/sample_stream.hpp"
#include "pkg/dns/message.hpp"
#include "pkg/flow/estimator.hpp"
#include "pkg/flow/parser.hpp"
#include "pkg/flow/table.hpp"

namespace netring::agent {

// A DNS message seen in a sample (the sampler copies every one).
struct DnsEvent {
  flow::FlowKey key;  // as seen: a query's is client -> server
  std::uint64_t ts_ns = 0;
  dns::Message msg;
};

// A TCP control packet the sampler always copies (SYN, FIN, RST, the
// handshake's ACK).
struct TcpControlEvent {
  flow::FlowKey key;
  std::uint64_t ts_ns = 0;
  std::uint8_t flags = 0;
};

// What a worker picks out of its samples besides flows: DNS messages and
// TCP control packets, for the publisher to match across workers.
struct ControlOptions {
  bool dns = false;
  std::vector<std::uint16_t> dns_ports{53};
  bool tcp_handshake = false;
  // Events kept between two reports, each kind (beyond: counted as dropped).
  std::size_t max_events = 16384;
};

struct ControlCounters {
  std::array<std::uint64_t, static_cast<std::size_t>(dns::ParseStatus::kCount)> dns_by_status{};
  std::uint64_t dns_events_dropped = 0;
  std::uint64_t tcp_events_dropped = 0;
};

// What a worker hands to the publisher at each request.
struct WorkerReport {
  std::vector<flow::FlowEntry> live;           // the table's flows, in slot order
  std::vector<flow::FlowEntry> ended;          // flows that left the table since the last report
  std::vector<flow::EndReason> ended_reasons;  // why, per entry of `ended`
  // What new flows counted while the table was full and nothing could leave
  // it (ended buffer full): endpoints unknown, totals that only grow.
  flow::FlowRecord overflow;
  flow::ParserCounters parser;
  datapath::SampleStreamStats stream;
  flow::FlowTableStats table;
  std::uint64_t poll_errors = 0;
  std::uint64_t wakeups = 0;  // times the worker woke from a nap or poll()
  // The largest rate a drawn (not always-copied) sample of the period was
  // drawn at: a copy budget scales 1:N, and a flow's interval must allow
  // for unseen packets at any rate in force while it lived.
  std::uint32_t max_drawn_rate = 0;
  // Since the last report, in the order the worker saw them.
  std::vector<DnsEvent> dns;
  std::vector<TcpControlEvent> tcp;
  ControlCounters control;  // cumulative
};

// A flow's exact counts for one drain period, for the worker that owns it.
struct ExactUpdate {
  flow::FlowKey key;
  flow::ExactCounts counts;
};

// The longest nap for a worker whose ring holds `ring_size` descriptors at
// 1:N (0: only the always-copied control packets), fed by `cpus_per_queue`
// CPUs. A node's samples trickle in at a few thousand a second (the copy
// budget keeps them there), where a wake-up (two context switches, costly
// under a paravirtualized guest, and on a CPU the pods' packets are
// processed on) costs more than the frames it reads: the nap doubles while a
// wake-up finds under kNapLow frames, up to this ceiling. It is the time the
// ring takes to fill three quarters with the copies a burst brings before
// the nap shrinks: 1:N of kBurstPps (about what one CPU's TC path forwards at
// 64 bytes) from each CPU. Never under 10 ms (at 1:1 on one CPU that holds
// 200,000 copies a second, as before the ceiling followed the rate) nor over
// 40 ms (25 wake-ups a second).
std::chrono::microseconds nap_ceiling(std::uint32_t sample_rate, std::uint32_t ring_size, std::uint32_t cpus_per_queue);

struct WorkerOptions {
  flow::FlowTableConfig table;
  flow::ParserConfig parser;
  std::size_t ended_capacity = 16384;  // flows kept between two reports
  // Longest nap between two reads of a non-empty stream; the nap shrinks
  // when a wake-up finds the ring filling up. 0: poll() after every batch.
  // The agent sets it with nap_ceiling() for its sample rate.
  std::chrono::microseconds max_nap{10000};
  ControlOptions control;
};

class Worker {
 public:
  static Result<std::unique_ptr<Worker>> create(std::unique_ptr<datapath::SampleStream> stream,
                                                const WorkerOptions& opts, capture_api::CaptureTap& tap);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();
  void stop();

  // Asks the worker for a report and waits up to `timeout` for it. nullopt
  // when the worker did not answer in time (then the next call gets it).
  std::optional<WorkerReport> collect(std::chrono::milliseconds timeout);

  // Gives back a report's `live` array once its flows are copied out: the
  // next report fills it instead of mapping (and faulting in) a new one.
  void recycle(std::vector<flow::FlowEntry> live);

  // Exact counts for flows of this worker; applied before its next report
  // (never dropped: a late worker applies them at the one after).
  void add_exact(std::vector<ExactUpdate> updates);

  // Fixed at creation: the flow table's mapping and this worker's share of
  // the AF_XDP UMEM (0 on AF_PACKET).
  std::size_t table_bytes() const { return table_bytes_; }
  std::size_t umem_bytes() const { return umem_bytes_; }

 private:
  Worker(std::unique_ptr<datapath::SampleStream> stream, flow::FlowTable table, const WorkerOptions& opts,
         capture_api::CaptureTap& tap);
  void run();
  void process(std::span<const datapath::Sample> samples);
  // DNS messages and TCP control packets of a sample whose flow parsed.
  void pick_control(const datapath::Sample& s, const flow::ParsedPacket& p, std::uint64_t ts);
  void report();
  // Room left in the ended buffer decides whether the table may evict.
  void update_eviction_policy();

  std::unique_ptr<datapath::SampleStream> stream_;
  flow::FlowTable table_;
  flow::Parser parser_;
  capture_api::CaptureTap& tap_;
  std::size_t ended_capacity_;
  std::size_t table_bytes_;
  std::size_t umem_bytes_;
  std::vector<flow::FlowEntry> ended_;          // reserved once; worker thread only
  std::vector<flow::EndReason> ended_reasons_;  // parallel to ended_
  std::uint64_t poll_errors_ = 0;
  std::uint64_t wakeups_ = 0;
  std::uint32_t max_drawn_rate_ = 0;  // since the last report
  std::chrono::microseconds max_nap_;
  std::uint64_t expire_every_ns_;  // between two slices of the timeout sweep
  ControlOptions control_;
  std::vector<bool> dns_port_;  // 65536 entries when control_.dns
  std::vector<DnsEvent> dns_events_;
  std::vector<TcpControlEvent> tcp_events_;
  ControlCounters control_counters_;

  std::array<datapath::Sample, datapath::SampleStream::kBatch> samples_{};
  std::array<flow::ParsedPacket, datapath::SampleStream::kBatch> parsed_{};
  std::array<flow::SampleInfo, datapath::SampleStream::kBatch> infos_{};
  std::array<capture::PacketView, datapath::SampleStream::kBatch> views_{};

  std::atomic<bool> stop_{false};
  std::atomic<bool> requested_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<WorkerReport> ready_;        // guarded by mu_
  std::vector<ExactUpdate> pending_exact_;   // guarded by mu_
  std::vector<flow::FlowEntry> spare_live_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace netring::agent
