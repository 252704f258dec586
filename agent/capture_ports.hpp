// The agent's capture ports (--capture-ports): each port, when discovery
// sees it, is opened with pkg/datapath's open_capture_port and gets one
// flow worker per stream (per RX queue or fanout member); when it goes, its
// workers stop and the XDP program and sockets are released. The publisher
// collects the workers' flows (reported as reporter "capture"), the port's
// exact frame counts and its losses per stage once per round.
//
// Discovery calls attach()/release() on its thread, the publisher
// collect() on its own: ports are shared, and each port's workers are
// collected under the port's own lock, so a release and a collection never
// take the same report from a worker.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/capture_api/capture_tap.hpp"
#include "agent/model.hpp"
#include "agent/worker.hpp"
#include "pkg/datapath/capture_port.hpp"

namespace netring::agent {

struct CapturePortsOptions {
  datapath::CapturePortOptions port;  // interface filled in per port
  WorkerOptions worker;               // table (split over the port's workers) and parser
};

// One publisher round of every capture port.
struct CaptureRound {
  // One per capture worker: the flows it holds (those of its last report
  // when it did not answer in time) and those that ended since the last
  // round. Flows of released ports arrive as ended.
  std::vector<WorkerReport> reports;
  std::vector<InterfaceCounters> interfaces;  // one per port, role "capture-port"
  // Summed over ports, those released included (they only grow).
  std::uint64_t samples = 0;
  std::vector<LossCounter> losses;                     // stage "capture_port"
  std::vector<std::uint64_t> table_bytes, umem_bytes;  // per capture worker
};

class CapturePorts {
 public:
  CapturePorts(CapturePortsOptions opts, capture_api::CaptureTap& tap) : opts_(std::move(opts)), tap_(tap) {}
  ~CapturePorts() { release_all(); }
  CapturePorts(const CapturePorts&) = delete;
  CapturePorts& operator=(const CapturePorts&) = delete;

  // Opens the port in the calling thread's network namespace and starts
  // its workers. A port already attached under this ifindex is kept.
  Result<void> attach(std::uint32_t ifindex, const std::string& name);
  // Stops the port's workers (their flows end) and releases its program
  // and sockets. Unknown ifindexes are ignored.
  void release(std::uint32_t ifindex);
  void release_all();

  CaptureRound collect(std::chrono::milliseconds timeout);
  std::size_t size() const;

 private:
  struct Port {
    std::uint32_t ifindex = 0;
    std::string name;
    datapath::CapturePort port;  // streams moved into the workers
    std::vector<std::unique_ptr<Worker>> workers;
    std::mutex mu;                   // the workers' collection, and last
    std::vector<WorkerReport> last;  // per worker: its latest report (live flows kept for a late answer)
  };
  // Collects `p` under its lock: reports (live flows copied from the last
  // report for workers that did not answer), and the port's totals.
  void collect_port(Port& p, std::chrono::milliseconds timeout, CaptureRound& round);

  CapturePortsOptions opts_;
  capture_api::CaptureTap& tap_;
  mutable std::mutex mu_;
  std::map<std::uint32_t, std::shared_ptr<Port>> ports_;
  // Released ports: their last flows (to be reported ended once) and their
  // totals, which stay in the agent's counters.
  std::vector<flow::FlowEntry> released_ended_;
  std::vector<flow::EndReason> released_reasons_;  // parallel to released_ended_
  std::vector<flow::FlowEntry> released_live_;     // live at release: reported ended, forced
  WorkerReport released_totals_;                   // parser, table and ended-buffer counters of released ports' workers
  std::uint64_t released_samples_ = 0;
  std::map<std::string, LossCounter> released_losses_;  // by reason
};

}  // namespace netring::agent
