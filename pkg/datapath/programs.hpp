// The sampler and mirror BPF programs, loaded once from the embedded
// skeletons, and the maps user space configures them through.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "bpf/flow_key.h"
#include "bpf/sample_meta.h"
#include "pkg/common/error.hpp"
#include "pkg/datapath/counters.hpp"

struct sampler_bpf;
struct mirror_bpf;

namespace netring::datapath {

// Which packets the sampler counts per flow in the kernel (exactly), the
// rest being estimated from samples.
enum class ExactFlows : std::uint32_t {
  kOff = NETRING_EXACT_OFF,    // none: every flow is estimated
  kBulk = NETRING_EXACT_BULK,  // skbs of more than one segment (GSO/GRO): most bytes, few skbs
  kAll = NETRING_EXACT_ALL,    // every skb
};
const char* to_string(ExactFlows e);

struct ProgramOptions {
  std::uint32_t snap_len = 128;     // bytes of the original frame kept per sample (0: all)
  std::uint32_t mirror_queues = 1;  // queues of the mirror link: one per capture worker
  std::uint64_t heartbeat_timeout_ns = 5'000'000'000;
  // Encapsulations leaving a physical interface carry packets already sampled
  // at the pod veth: VXLAN (4789, Linux 8472), Geneve (6081), WireGuard (51820).
  std::vector<std::uint16_t> tunnel_udp_ports{4789, 8472, 6081, 51820};
  // Of those, the ones the sampler decapsulates to count the inner flow (as
  // the user-space parser does, flow::ParserConfig).
  std::vector<std::uint16_t> vxlan_ports{4789, 8472};
  std::vector<std::uint16_t> geneve_ports{6081};
  bool skip_ipip = true;   // IPv4-in-IP, protocol 4
  bool skip_ip6ip = true;  // IPv6-in-IP, protocol 41
  ExactFlows exact_flows = ExactFlows::kBulk;
  // Entries of each of the two flow-count maps: the flows active within one
  // drain period. Beyond it packets are estimated (and counted as such).
  std::uint32_t flow_map_entries = 65536;
  // false: the sampler parses every packet header by header (its general
  // path), never in place (tests compare the two paths).
  bool parse_fast_path = true;
  // Packets copied whatever the rate, with p = 1: DNS (TCP and UDP, either
  // port in dns_ports) and TCP control packets (SYN, FIN, RST and the
  // handshake's final ACK).
  bool copy_dns = false;
  std::vector<std::uint16_t> dns_ports{53};
  bool copy_tcp_control = false;
  // Drawn copies a second per CPU beyond which that CPU's 1:N is scaled up
  // (struct netring_copy_scale in sample_meta.h); 0 = a fixed 1:N.
  std::uint32_t copy_budget = 0;
};

class Programs {
 public:
  static Result<Programs> load(const ProgramOptions& opts);

  Programs(Programs&&) noexcept;
  Programs& operator=(Programs&&) noexcept;
  Programs(const Programs&) = delete;
  Programs& operator=(const Programs&) = delete;
  ~Programs();

  int sampler_ingress_fd() const;
  int sampler_egress_fd() const;
  int mirror_fd() const;

  int config_map_fd() const;
  int config_direct_map_fd() const;  // the same configs by index, ifindex < NETRING_CONFIG_DIRECT
  int settings_map_fd() const;
  int heartbeat_map_fd() const;
  int if_counters_map_fd() const;
  int stats_map_fd() const;
  int mirror_stats_map_fd() const;
  int seqs_map_fd() const;        // per-CPU sequence numbers by queue (tests)
  int copy_scale_map_fd() const;  // the copy budget's per-CPU state
  // Open handshakes by client end, and their filter by slot (tests).
  int handshakes_map_fd() const;
  int handshake_slots_map_fd() const;
  // The exact flow counts: the ARRAY_OF_MAPS whose entry 0 the sampler
  // writes, and the two maps that take turns there (kflow::FlowCountReader).
  int flow_maps_fd() const;
  int flow_map_fd(int which) const;  // 0 or 1; entry 0 starts as map 0

  // Where clones go; 0 stops cloning (counting goes on).
  Result<void> set_mirror_ifindex(std::uint32_t ifindex);
  // Configures an interface (rate, role) and gives it counter slots, zeroed
  // before the sampler can find it. Up to NETRING_MAX_INTERFACES at once.
  Result<void> set_interface(std::uint32_t ifindex, std::uint32_t rate, netring_role role);
  // Forgets the interface: the sampler stops finding it, and its counter
  // slots are freed (read them first; detach its hooks before, so that no
  // program run adds to a slot that another interface gets next).
  Result<void> remove_interface(std::uint32_t ifindex);
  // The exact counters of a configured interface (zero when it is not).
  Result<InterfaceCounters> interface_counters(std::uint32_t ifindex, std::uint32_t direction) const;
  // Both directions of every configured interface.
  Result<std::vector<InterfaceCounters>> all_interface_counters() const;

  // Leaves truncation to the mirror's reader (TPACKET's socket filter):
  // the mirror program then marks a clone truncated without trimming it,
  // which spares it a copy of the whole clone (see mirror.bpf.c).
  void set_reader_truncates(bool on);
  bool reader_truncates() const;
  // The AF_XDP rung's GSO clones: non-zero, the mirror program redirects
  // them whole into the receive path of `far_ifindex` (a TPACKET_V3 socket
  // there keeps their header and snap length), and the sampler numbers
  // them apart from single frames; 0 trims them in the program as before.
  Result<void> set_gso_apart(std::uint32_t far_ifindex);
  std::uint32_t gso_apart() const;
  const ProgramOptions& options() const { return opts_; }

 private:
  Programs() = default;
  Result<void> write_settings();
  bool direct_present(std::uint32_t ifindex) const;
  sampler_bpf* sampler_ = nullptr;
  mirror_bpf* mirror_ = nullptr;
  ProgramOptions opts_;
  std::uint32_t mirror_ifindex_ = 0;
  bool gso_apart_ = false;
  std::map<std::uint32_t, std::uint32_t> slots_;  // ifindex -> counter slot
  std::vector<bool> slot_used_;
};

}  // namespace netring::datapath
