// The data path as the agent sees it: hook an interface at a rate, read the
// exact counters, keep the heartbeat, and learn which capture rung serves.
//
// create() loads the embedded programs once, makes the mirror link, attaches
// the mirror program to its near end and picks the capture rung, falling
// down the ladder with each step's reason recorded:
//   1. AF_XDP on the mirror's far end (single frames; GSO clones go whole
//      to a TPACKET_V3 fanout member there, see mirror.bpf.c)
//   2. TPACKET_V3 on the mirror's far end (no AF_XDP)
//   3. no BPF program loading at all: TPACKET_V3 directly on each hooked
//      interface with a sampling socket filter (incoming packets only)
// Everything runs in the network namespace of the thread that calls it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pkg/common/error.hpp"
#include "pkg/datapath/counters.hpp"
#include "pkg/datapath/mirror_link.hpp"
#include "pkg/datapath/probe.hpp"
#include "pkg/datapath/programs.hpp"
#include "pkg/datapath/sample_stream.hpp"
#include "pkg/datapath/tc_hook.hpp"

namespace netring::xdp {
class RedirectProgram;
}
namespace netring::capture {
class DirectCapture;
class Source;
}  // namespace netring::capture
namespace netring::packet {
struct RingGeometry;
}

namespace netring::datapath {

enum class Rung : std::uint8_t { kAfXdpMirror, kAfPacketMirror, kAfPacketDirect };
const char* to_string(Rung r);

enum class Role : std::uint8_t { kPod, kPhysical };

// The longest snap length the AF_XDP rung carries. A sample (the 56-byte
// header and snap_len bytes of the original) must reach the far end of the
// mirror as one XDP buffer: veth builds one of at most a page less its
// 256 bytes of XDP headroom and the skb_shared_info (320 bytes on x86-64)
// and makes anything longer a multi-buffer packet, which a socket bound
// without XDP_USE_SG drops. The UMEM frame is sized from the snap length
// (afxdp_frame_size). Longer snap lengths take the TPACKET_V3 rung.
constexpr std::uint32_t kMaxAfXdpSnapLen = 4096 - 256 - 320 - sizeof(netring_sample_hdr);
// The UMEM frame a sample of `snap_len` needs: 2048 bytes while the header,
// the snap length and the kernel's 256 bytes of headroom fit, else 4096.
constexpr std::uint32_t afxdp_frame_size(std::uint32_t snap_len) {
  return snap_len != 0 && 256 + sizeof(netring_sample_hdr) + snap_len <= 2048 ? 2048 : 4096;
}

struct DatapathOptions {
  std::uint32_t workers = 1;  // capture workers = mirror queues
  ProgramOptions programs;    // snap length, heartbeat timeout, tunnel rules
  AttachMode attach = AttachMode::kAuto;
  MirrorLinkOptions mirror;  // names; queues are set from `workers`
  // Start the ladder lower (tests, operators who know better). The rung
  // still falls further if it cannot serve.
  std::optional<Rung> highest_rung;
};

// One step of the ladder: a rung that was considered and why it was (not) taken.
struct RungStep {
  Rung rung;
  bool taken = false;
  std::string reason;
};

struct DatapathCounters {
  std::vector<InterfaceCounters> interfaces;
  StageCounters stages;
  // The mirror's XDP redirect program (AF_XDP rung), summed over queues.
  std::uint64_t xdp_redirects = 0;
  std::uint64_t xdp_misses = 0;
  CopyScale copy_scale;
};

struct CaptureOptions {
  std::uint32_t frame_size = 2048;       // AF_XDP UMEM frame, at least afxdp_frame_size(snap length)
  std::uint32_t ring_size = 2048;        // AF_XDP descriptors per queue
  std::uint32_t packet_block_count = 4;  // TPACKET_V3 ring: blocks of 1 MiB per worker
  // The no-BPF rung samples all hooked interfaces with one socket filter
  // at this 1-in-N rate (per skb: a GSO skb counts as one packet there).
  std::uint32_t direct_sample_rate = 100;
};

class Datapath {
 public:
  static Result<std::unique_ptr<Datapath>> create(const DatapathOptions& opts);
  ~Datapath();
  Datapath(const Datapath&) = delete;
  Datapath& operator=(const Datapath&) = delete;

  // Hooks ingress and egress of `ifindex` (idempotent: a second call only
  // changes rate and role). rate 0 counts without sampling.
  Result<void> hook(int ifindex, std::uint32_t rate, Role role);
  // Detaches and forgets the interface, its counters included: read
  // counters() first for the final totals.
  Result<void> unhook(int ifindex);
  Result<void> set_rate(int ifindex, std::uint32_t rate);

  // Refreshes the heartbeat the sampler gates cloning on, and puts our tcx
  // programs back at the head of their chains if another program got ahead.
  // Call it well within the heartbeat timeout (e.g. every second).
  Result<void> heartbeat();

  Result<DatapathCounters> counters() const;

  // The capture side of the current rung: one stream of decoded samples per
  // mirror queue (= worker). On the AF_XDP rung the XDP redirect program is
  // attached natively to the mirror's far end, dropping what no socket
  // takes (the frames are copies); if that fails, the ladder falls to
  // TPACKET_V3 and records why. Call once; destroy the streams before the
  // Datapath.
  Result<std::vector<std::unique_ptr<SampleStream>>> open_sources(const CaptureOptions& opts = {});

  Rung rung() const { return rung_; }
  const std::vector<RungStep>& ladder() const { return ladder_; }
  const Features& features() const { return features_; }
  // The mirror link (rungs 1 and 2), nullptr on rung 3.
  const MirrorLink* mirror() const { return mirror_ ? &*mirror_ : nullptr; }
  const Programs* programs() const { return programs_ ? &*programs_ : nullptr; }
  // Interfaces hooked, with their rate (rung 3 captures these directly).
  std::map<int, std::uint32_t> hooked_rates() const;
  // Tcx order restorations done by heartbeat() so far.
  std::uint64_t order_restores() const { return order_restores_; }

 private:
  Datapath() = default;
  Result<std::vector<std::unique_ptr<SampleStream>>> open_af_xdp(const CaptureOptions& opts);
  Result<std::vector<std::unique_ptr<SampleStream>>> open_af_packet_mirror(const CaptureOptions& opts);
  // TPACKET_V3 on the mirror's far end, one fanout member per queue.
  Result<std::vector<std::unique_ptr<capture::Source>>> open_mirror_sockets(const packet::RingGeometry& ring);
  Result<std::vector<std::unique_ptr<SampleStream>>> open_direct(const CaptureOptions& opts);
  Result<void> update_direct_rule();
  struct Hooked {
    std::uint32_t rate = 0;
    Role role = Role::kPod;
    std::optional<TcHook> ingress, egress;
  };

  DatapathOptions opts_;
  Features features_;
  Rung rung_ = Rung::kAfPacketDirect;
  std::vector<RungStep> ladder_;
  std::optional<Programs> programs_;
  std::optional<MirrorLink> mirror_;
  std::optional<TcHook> mirror_hook_;
  std::map<int, Hooked> hooked_;
  std::shared_ptr<xdp::RedirectProgram> redirect_;
  std::shared_ptr<capture::DirectCapture> direct_;
  std::uint64_t order_restores_ = 0;
};

}  // namespace netring::datapath
