#include "pkg/kevents/retransmit_monitor.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

#include "bpf/tcp_retrans.skel.h"
#include "pkg/bpf/skeleton.hpp"
#include "pkg/kevents/bpf_error.hpp"
#include "pkg/kevents/percpu.hpp"
#include "pkg/kevents/swapped_maps.hpp"

namespace netring::kevents {

struct RetransmitMonitor::Impl {
  bpf::Skeleton<tcp_retrans_bpf, tcp_retrans_bpf__destroy> skel;
  std::unique_ptr<SwappedMaps> maps;
};

RetransmitMonitor::RetransmitMonitor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RetransmitMonitor::~RetransmitMonitor() = default;

Result<std::unique_ptr<RetransmitMonitor>> RetransmitMonitor::start(const RetransmitMonitorOptions& opts) {
  auto impl = std::make_unique<Impl>();
  impl->skel.reset(tcp_retrans_bpf__open());
  if (!impl->skel) return tracing_error("tcp_retrans_bpf__open", errno, "tcp:tcp_retransmit_skb");
  auto& s = *impl->skel;
  const std::uint32_t entries = opts.map_entries == 0 ? 1 : opts.map_entries;
  for (bpf_map* m : {s.maps.retrans_a, s.maps.retrans_b})
    if (int err = bpf_map__set_max_entries(m, entries); err != 0)
      return tracing_error("bpf_map__set_max_entries", err, "retransmit maps");
  if (int err = tcp_retrans_bpf__load(&s); err != 0)
    return tracing_error("tcp_retrans_bpf__load", err, "tcp:tcp_retransmit_skb", true);
  if (opts.attach) {
    if (int err = tcp_retrans_bpf__attach(&s); err != 0)
      return tracing_error("bpf_raw_tracepoint_open", err, "tcp:tcp_retransmit_skb");
  }
  impl->maps = std::make_unique<SwappedMaps>(bpf_map__fd(s.maps.retrans_maps), bpf_map__fd(s.maps.retrans_a),
                                             bpf_map__fd(s.maps.retrans_b), sizeof(netring_flow_key),
                                             sizeof(netring_retrans_counts));
  return std::unique_ptr<RetransmitMonitor>(new RetransmitMonitor(std::move(impl)));
}

Result<std::size_t> RetransmitMonitor::drain(std::vector<RetransmitCount>& out) {
  return impl_->maps->drain([&out](const void* k, const void* v) {
    RetransmitCount c;
    std::memcpy(static_cast<void*>(&c.key), k, sizeof c.key);  // same layout (flow_key.h)
    std::memcpy(&c.counts, v, sizeof c.counts);
    out.push_back(c);
  });
}

Result<RetransmitStats> RetransmitMonitor::stats() const {
  auto v = percpu_sums(bpf_map__fd(impl_->skel->maps.retrans_stats), NETRING_RETRANS_STAT_MAX, "retransmit stats");
  if (!v) return v.error();
  RetransmitStats s;
  s.seen = (*v)[NETRING_RETRANS_STAT_SEEN];
  s.segments = (*v)[NETRING_RETRANS_STAT_SEGMENTS];
  s.map_full = (*v)[NETRING_RETRANS_STAT_MAP_FULL];
  s.no_map = (*v)[NETRING_RETRANS_STAT_NO_MAP];
  s.unkeyed = (*v)[NETRING_RETRANS_STAT_UNKEYED];
  return s;
}

int RetransmitMonitor::program_fd() const {
  return bpf_program__fd(impl_->skel->progs.netring_tcp_retransmit_skb);
}

}  // namespace netring::kevents
