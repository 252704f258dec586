// One capture worker per sample stream (per mirror queue): samples -> flow
// parser -> the worker's own flow table, and a copy to the capture API's tap.
//
// The table belongs to the worker thread alone, so the hot path takes no lock
// and allocates nothing (fixed arrays per batch). Readers ask for a copy:
// request_snapshot() raises a flag that the worker checks between batches;
// it then copies its table (the occupied entries, one flat array: 128 bytes a
// flow, no per-node allocation), counters and the flows that left the table
// into a WorkerReport under a mutex, where the publisher collects it.
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
#include "pkg/flow/estimator.hpp"
#include "pkg/flow/parser.hpp"
#include "pkg/flow/table.hpp"

namespace netring::agent {

// What a worker hands to the publisher at each request.
struct WorkerReport {
  std::vector<flow::FlowEntry> live;           // the table's flows, in slot order
  std::vector<flow::FlowEntry> ended;          // flows that left the table since the last report
  std::vector<flow::EndReason> ended_reasons;  // why, per entry of `ended`
  flow::ParserCounters parser;
  datapath::SampleStreamStats stream;
  flow::FlowTableStats table;
  std::uint64_t ended_dropped =
      0;  // ended flows not kept (buffer full): their counts stay in metrics up to the last report
  std::uint64_t poll_errors = 0;
};

struct WorkerOptions {
  flow::FlowTableConfig table;
  flow::ParserConfig parser;
  std::size_t ended_capacity = 16384;  // flows kept between two reports
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

  // Fixed at creation: the flow table's mapping and this worker's share of
  // the AF_XDP UMEM (0 on AF_PACKET).
  std::size_t table_bytes() const { return table_bytes_; }
  std::size_t umem_bytes() const { return umem_bytes_; }

 private:
  Worker(std::unique_ptr<datapath::SampleStream> stream, flow::FlowTable table, const WorkerOptions& opts,
         capture_api::CaptureTap& tap);
  void run();
  void process(std::span<const datapath::Sample> samples);
  void report();

  std::unique_ptr<datapath::SampleStream> stream_;
  flow::FlowTable table_;
  flow::Parser parser_;
  capture_api::CaptureTap& tap_;
  std::size_t ended_capacity_;
  std::size_t table_bytes_;
  std::size_t umem_bytes_;
  std::vector<flow::FlowEntry> ended_;          // reserved once; worker thread only
  std::vector<flow::EndReason> ended_reasons_;  // parallel to ended_
  std::uint64_t ended_dropped_ = 0;
  std::uint64_t poll_errors_ = 0;

  std::array<datapath::Sample, datapath::SampleStream::kBatch> samples_{};
  std::array<flow::ParsedPacket, datapath::SampleStream::kBatch> parsed_{};
  std::array<flow::SampleInfo, datapath::SampleStream::kBatch> infos_{};
  std::array<capture::PacketView, datapath::SampleStream::kBatch> views_{};

  std::atomic<bool> stop_{false};
  std::atomic<bool> requested_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<WorkerReport> ready_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace netring::agent
