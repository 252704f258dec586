// One netring TC program attached to one interface and direction, for as
// long as the TcHook lives.
//
// tcx first (kernel >= 6.6): a bpf_link at the head of the chain
// (BPF_F_BEFORE), because CNIs such as Cilium and Calico's eBPF data plane
// attach to tcx and redirect pod traffic, which a classic filter would then
// never see. clsact otherwise: netring's own handle at priority 1, the
// qdisc created if missing (EEXIST is fine) and never destroyed, because
// other programs live there.
//
// Stale hooks of a crashed agent: a tcx link dies with the process that held
// its fd, but a clsact filter stays. attach() replaces netring's filter at
// its fixed handle/priority, and detaches tcx links running a program of the
// same name that is not ours, so hooks never stack up.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pkg/common/error.hpp"
#include "pkg/common/fd.hpp"

namespace netring::datapath {

enum class HookPoint : std::uint8_t { kIngress, kEgress };
enum class AttachMode : std::uint8_t { kAuto, kTcx, kClsact };
const char* to_string(AttachMode m);

// clsact filter handle: "NR" and 1.
inline constexpr std::uint32_t kClsactHandle = 0x4e520001;
inline constexpr std::uint32_t kClsactPriority = 1;

class TcHook {
 public:
  // mode kAuto picks tcx where the kernel has it, clsact otherwise.
  static Result<TcHook> attach(int ifindex, HookPoint point, int prog_fd, AttachMode mode = AttachMode::kAuto);

  TcHook(TcHook&&) noexcept;
  TcHook& operator=(TcHook&&) noexcept;
  TcHook(const TcHook&) = delete;
  TcHook& operator=(const TcHook&) = delete;
  ~TcHook();

  // tcx: checks that our program still runs first and, if another program
  // got ahead, re-attaches it at the head. Returns true when it had to.
  // A no-op returning false on clsact (priority 1 is the head there).
  Result<bool> ensure_first();

  // Removes the hook if it is still ours; the destructor does the same.
  Result<void> detach();

  AttachMode mode() const { return mode_; }
  int ifindex() const { return ifindex_; }
  HookPoint point() const { return point_; }
  std::string describe() const;

 private:
  TcHook() = default;
  Result<void> attach_tcx();
  Result<void> attach_clsact();

  int ifindex_ = 0;
  HookPoint point_ = HookPoint::kIngress;
  AttachMode mode_ = AttachMode::kTcx;
  int prog_fd_ = -1;  // not owned: the skeleton outlives its hooks
  std::uint32_t prog_id_ = 0;
  std::string prog_name_;
  UniqueFd link_;  // tcx only
  bool attached_ = false;
};

// Whether this kernel has tcx (BPF_PROG_QUERY on a tcx attach type succeeds).
bool tcx_supported();

// Program ids on a hook, in run order (tcx) / the one at netring's handle
// (clsact); for tests and diagnostics.
Result<std::vector<std::uint32_t>> tcx_program_ids(int ifindex, HookPoint point);

}  // namespace netring::datapath
