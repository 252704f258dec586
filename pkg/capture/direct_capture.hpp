// The no-BPF rung: AF_PACKET capture directly on the hooked interfaces when
// no BPF program may be loaded at all.
//
// One fanout group of ETH_P_ALL sockets bound to *no* interface, each with
// the classic filter of packet/direct_capture_filter.hpp (hooked interfaces
// only, each packet once, 1-in-N sampling). Why not one socket per hooked
// interface joined to one group: the kernel only lets sockets bound to the
// same device share a fanout group (fanout_add compares prot_hook.dev), so
// per-interface sockets would need a group and a ring per pod veth, which
// is memory and fds per pod and one reader per ring. Unbound sockets need
// one ring per worker whatever the pod count; the price, one short classic
// program run per packet of the node, is paid in the kernel, and hooking or
// unhooking an interface is one filter swap per member (set_rule).
#pragma once

#include <memory>
#include <vector>

#include "pkg/capture/packet_source.hpp"
#include "pkg/packet/direct_capture_filter.hpp"

namespace netring::capture {

struct DirectCaptureOptions {
  packet::DirectCaptureRule rule{};
  unsigned members = 1;
  std::uint32_t sample_rate = 1;
  std::uint32_t snap_len = 0;
  packet::RingGeometry ring{};
  packet::FanoutMode fanout_mode = packet::FanoutMode::kHash;
  packet::LogSink log{};
};

class DirectCapture {
 public:
  // Sockets are made in the calling thread's network namespace.
  static Result<DirectCapture> open(const DirectCaptureOptions& opts);

  std::vector<std::unique_ptr<Source>>& sources() { return sources_; }
  // Replaces every member's filter (SO_ATTACH_FILTER swaps atomically: no
  // packet runs without a filter in between) after interfaces come or go.
  Result<void> set_rule(const packet::DirectCaptureRule& rule);

 private:
  DirectCapture(std::vector<std::unique_ptr<Source>> s, std::uint32_t rate, std::uint32_t snap)
      : sources_(std::move(s)), rate_(rate), snap_(snap) {}
  std::vector<std::unique_ptr<Source>> sources_;
  std::uint32_t rate_ = 1;
  std::uint32_t snap_ = 0;
};

}  // namespace netring::capture
