#include "pkg/datapath/counters.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "bpf/sample_meta.h"

namespace netring::datapath {
namespace {

Result<std::size_t> ncpus() {
  const int n = libbpf_num_possible_cpus();
  if (n <= 0) return Error("libbpf_num_possible_cpus", -n);
  return static_cast<std::size_t>(n);
}

}  // namespace

Result<std::vector<std::uint64_t>> read_percpu_u64_array(int map_fd, std::uint32_t n) {
  auto nc = ncpus();
  if (!nc) return std::move(nc).take_error();
  std::vector<std::uint64_t> sums(n, 0), per_cpu(*nc);
  for (std::uint32_t i = 0; i < n; ++i) {
    if (bpf_map_lookup_elem(map_fd, &i, per_cpu.data()) != 0)
      return Error::from_errno("bpf_map_lookup_elem", "per-CPU stats index " + std::to_string(i));
    for (std::uint64_t v : per_cpu) sums[i] += v;
  }
  return sums;
}

Result<InterfaceCounters> read_interface_slot(int fd, std::uint32_t index, std::uint32_t ifindex,
                                              std::uint32_t direction) {
  auto nc = ncpus();
  if (!nc) return std::move(nc).take_error();
  InterfaceCounters out{ifindex, direction};
  std::vector<netring_if_counters> per_cpu(*nc);
  if (bpf_map_lookup_elem(fd, &index, per_cpu.data()) != 0)
    return Error::from_errno("bpf_map_lookup_elem", "interface counters ifindex " + std::to_string(ifindex));
  for (const auto& c : per_cpu) {
    out.skbs += c.skbs;
    out.segs += c.segs;
    out.bytes += c.bytes;
    out.wire_bytes += c.wire_bytes;
    out.gso_unparsed += c.gso_unparsed;
  }
  return out;
}

Result<StageCounters> read_stage_counters(int sampler_stats_fd, int mirror_stats_fd) {
  auto s = read_percpu_u64_array(sampler_stats_fd, NETRING_ST__MAX);
  if (!s) return std::move(s).take_error();
  StageCounters out;
  const auto& v = *s;
  out.clone_attempts = v[NETRING_ST_CLONE_ATTEMPTS];
  out.clone_nomem = v[NETRING_ST_CLONE_NOMEM];
  out.clone_failures = v[NETRING_ST_CLONE_FAILURES] + out.clone_nomem;
  out.heartbeat_stale = v[NETRING_ST_HEARTBEAT_STALE];
  out.skip_forwarded = v[NETRING_ST_SKIP_FORWARDED];
  out.skip_tunnel = v[NETRING_ST_SKIP_TUNNEL];
  out.skip_ifindex = v[NETRING_ST_SKIP_IFINDEX];
  out.no_config = v[NETRING_ST_NO_CONFIG];
  out.flow_counted = v[NETRING_ST_FLOW_COUNTED];
  out.flow_map_full = v[NETRING_ST_FLOW_MAP_FULL];
  out.flow_declined = v[NETRING_ST_FLOW_DECLINED];
  out.flow_malformed = v[NETRING_ST_FLOW_MALFORMED];
  out.flow_no_map = v[NETRING_ST_FLOW_NO_MAP];
  out.forced_copies = v[NETRING_ST_FORCED];
  out.scaled_copies = v[NETRING_ST_SCALED];
  if (mirror_stats_fd >= 0) {
    auto m = read_percpu_u64_array(mirror_stats_fd, NETRING_MST__MAX);
    if (!m) return std::move(m).take_error();
    out.mirror_passes = (*m)[NETRING_MST_PASSES];
    out.mirror_gso_apart = (*m)[NETRING_MST_GSO_APART];
    out.mirror_foreign = (*m)[NETRING_MST_FOREIGN];
    out.mirror_errors = (*m)[NETRING_MST_TRIM_ERRORS] + (*m)[NETRING_MST_HEAD_ERRORS];
  }
  return out;
}

Result<CopyScale> read_copy_scale(int fd) {
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return Error("libbpf_num_possible_cpus", -ncpu);
  std::vector<netring_copy_scale> per_cpu(static_cast<std::size_t>(ncpu));
  const std::uint32_t zero = 0;
  if (bpf_map_lookup_elem(fd, &zero, per_cpu.data()) != 0)
    return Error::from_errno("bpf_map_lookup_elem", "sampler copy_scale");
  CopyScale out;
  for (const auto& c : per_cpu) {
    out.max_scale = std::max(out.max_scale, c.scale);
    if (c.scale > 1) ++out.cpus_scaled;
    out.raises += c.raises;
  }
  return out;
}

}  // namespace netring::datapath
