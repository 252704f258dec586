// netring's XSKMAP redirect program (bpf/xsk_redirect.bpf.c), loaded and
// attached to one interface for as long as this object lives.
//
// Attached through a bpf_link (5.9+): the link detaches when its fd closes,
// whichever thread or network namespace that happens in, and no one else
// can replace the program behind our back. Native (driver) mode first; on
// failure generic (SKB) mode, with the reason kept, unless native is
// required (a capture port without driver XDP goes to AF_PACKET instead).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <memory>
#include "pkg/common/error.hpp"
#include "pkg/common/fd.hpp"

struct xsk_redirect_bpf;  // the generated skeleton (bpf/xsk_redirect.skel.h)

namespace netring::xdp {

// What the program returns for a packet whose queue has no socket.
enum class MissAction : std::uint8_t { kPass, kDrop };

struct RedirectOptions {
  MissAction miss_action = MissAction::kPass;
  bool require_native = false;
  bool force_generic = false;  // straight to SKB mode
  // For ports that carry copies only (SPAN/TAP): count every frame (packets
  // and bytes, all fragments) and hand 1 in sample_rate of them to the
  // sockets, dropping the others. sample_rate needs count_frames.
  bool count_frames = false;
  std::uint32_t sample_rate = 1;
};

struct RedirectCounters {
  std::uint64_t redirected = 0;
  std::uint64_t missed = 0;
  std::uint64_t packets = 0;  // with count_frames: every frame
  std::uint64_t bytes = 0;
  std::uint64_t skipped = 0;  // left out by sampling (dropped)

  RedirectCounters& operator+=(const RedirectCounters& o) {
    redirected += o.redirected, missed += o.missed, packets += o.packets, bytes += o.bytes, skipped += o.skipped;
    return *this;
  }
};

class RedirectProgram {
 public:
  static constexpr std::uint32_t kMaxQueues = 256;

  // Loads and attaches to `ifindex` in the calling thread's namespace.
  // EPERM names CAP_BPF and CAP_NET_ADMIN.
  static Result<RedirectProgram> attach(std::uint32_t ifindex, const RedirectOptions& opts = {});

  RedirectProgram(RedirectProgram&&) noexcept = default;
  RedirectProgram& operator=(RedirectProgram&&) noexcept = default;
  ~RedirectProgram() = default;

  bool native() const { return native_; }
  // Why native mode was not used (empty when it is).
  const std::string& fallback_reason() const { return fallback_reason_; }
  std::uint32_t ifindex() const { return ifindex_; }
  int program_fd() const;
  int xskmap_fd() const;

  // XSKMAP[queue] = socket fd (the socket must be bound to that queue).
  Result<void> register_socket(std::uint32_t queue, int socket_fd);
  Result<void> unregister_socket(std::uint32_t queue);
  // Summed over CPUs.
  Result<RedirectCounters> counters(std::uint32_t queue) const;
  // Summed over CPUs and the slots of queues 0..queues-1 (queues past the
  // last slot count in it).
  Result<RedirectCounters> totals(std::uint32_t queues) const;
  std::uint32_t sample_rate() const { return sample_rate_; }

 private:
  // The skeleton's functions are static inline: keep them out of the
  // header, behind an out-of-line deleter.
  struct SkelDeleter {
    void operator()(xsk_redirect_bpf* s) const;
  };
  RedirectProgram() = default;
  std::unique_ptr<xsk_redirect_bpf, SkelDeleter> skel_;
  UniqueFd link_;  // declared after skel_: detached before the program is freed
  std::uint32_t ifindex_ = 0;
  bool native_ = false;
  std::uint32_t sample_rate_ = 1;
  std::string fallback_reason_;
};

}  // namespace netring::xdp
