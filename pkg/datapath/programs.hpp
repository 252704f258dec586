// The sampler and mirror BPF programs, loaded once from the embedded
// skeletons, and the maps user space configures them through.
#pragma once

#include <cstdint>
#include <vector>

#include "bpf/sample_meta.h"
#include "pkg/common/error.hpp"

struct sampler_bpf;
struct mirror_bpf;

namespace netring::datapath {

struct ProgramOptions {
  std::uint32_t snap_len = 128;     // bytes of the original frame kept per sample (0: all)
  std::uint32_t mirror_queues = 1;  // queues of the mirror link: one per capture worker
  std::uint64_t heartbeat_timeout_ns = 5'000'000'000;
  // Encapsulations leaving a physical interface carry packets already sampled
  // at the pod veth: VXLAN (4789, Linux 8472), Geneve (6081), WireGuard (51820).
  std::vector<std::uint16_t> tunnel_udp_ports{4789, 8472, 6081, 51820};
  bool skip_ipip = true;   // IPv4-in-IP, protocol 4
  bool skip_ip6ip = true;  // IPv6-in-IP, protocol 41
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
  int settings_map_fd() const;
  int heartbeat_map_fd() const;
  int counters_map_fd() const;
  int stats_map_fd() const;
  int mirror_stats_map_fd() const;

  // Where clones go; 0 stops cloning (counting goes on).
  Result<void> set_mirror_ifindex(std::uint32_t ifindex);
  Result<void> set_interface(std::uint32_t ifindex, std::uint32_t rate, netring_role role);
  // Forgets the interface: config and counters (read them first).
  Result<void> remove_interface(std::uint32_t ifindex);

  // Leaves truncation to the mirror's reader (TPACKET's socket filter):
  // the mirror program then marks a clone truncated without trimming it,
  // which spares it a copy of the whole clone (see mirror.bpf.c).
  void set_reader_truncates(bool on);
  bool reader_truncates() const;
  const ProgramOptions& options() const { return opts_; }

 private:
  Programs() = default;
  Result<void> write_settings();
  sampler_bpf* sampler_ = nullptr;
  mirror_bpf* mirror_ = nullptr;
  ProgramOptions opts_;
  std::uint32_t mirror_ifindex_ = 0;
};

}  // namespace netring::datapath
