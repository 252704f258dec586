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

struct RetransmitMonitorOptions {
  std::uint32_t map_entries = 4096;  // flows with retransmissions per drain period
  bool attach = true;                // false: loaded only (BPF_PROG_TEST_RUN)
};

struct RetransmitCount {
  flow::FlowKey key;  // the retransmitted segments' direction: local -> remote
  netring_retrans_counts counts{};
};

struct RetransmitStats {
  std::uint64_t seen = 0, segments = 0, map_full = 0, no_map = 0, unkeyed = 0;
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

 private:
  struct Impl;
  explicit RetransmitMonitor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace netring::kevents
