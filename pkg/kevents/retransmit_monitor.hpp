// TCP retransmissions from the kernel (bpf/tcp_retrans.bpf.c on
// tcp:tcp_retransmit_skb): exact retransmitted segments per flow, in the
// unit of the kernel's TcpRetransSegs, with the socket's smoothed RTT.
//
// Owns the loaded program, its maps and its attachment.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "bpf/kevents.h"
#include "pkg/common/error.hpp"
#include "pkg/flow/key.hpp"

namespace netring::kevents {

// Which of the two programs (bpf/tcp_retrans.bpf.c) runs: the one for the
// kernel's tracepoint (its BTF says whether it passes err), or one asked for
// (BPF_PROG_TEST_RUN of either on any kernel).
enum class RetransmitProgram { automatic, without_err, with_err };

struct RetransmitMonitorOptions {
  std::uint32_t map_entries = 4096;  // flows with retransmissions per drain period
  bool attach = true;                // false: loaded only (BPF_PROG_TEST_RUN)
  RetransmitProgram program = RetransmitProgram::automatic;
};

struct RetransmitCount {
  flow::FlowKey key;  // the retransmitted segments' direction: local -> remote
  netring_retrans_counts counts{};
};

struct RetransmitStats {
  std::uint64_t seen = 0, segments = 0, map_full = 0, map_busy = 0, no_map = 0, unkeyed = 0;
  std::uint64_t not_sent = 0;  // 6.13+: attempts the kernel gave up before counting them
  std::uint64_t missed = 0;    // hits the kernel skipped: the program already ran on that CPU
};

class RetransmitMonitor {
 public:
  static Result<std::unique_ptr<RetransmitMonitor>> start(const RetransmitMonitorOptions& opts);
  ~RetransmitMonitor();
  RetransmitMonitor(const RetransmitMonitor&) = delete;
  RetransmitMonitor& operator=(const RetransmitMonitor&) = delete;

  Result<std::size_t> drain(std::vector<RetransmitCount>& out);
  Result<RetransmitStats> stats() const;
  int program_fd() const;
  // "raw_tp (sk, skb)" up to 6.12, "raw_tp (sk, skb, err)" from 6.13.
  const char* program() const;

 private:
  struct Impl;
  explicit RetransmitMonitor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace netring::kevents
