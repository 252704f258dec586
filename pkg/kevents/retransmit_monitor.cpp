#include "pkg/kevents/retransmit_monitor.hpp"

#include <bpf/bpf.h>
#include <bpf/btf.h>
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
  bool with_err = false;
};

namespace {

// Whether tcp:tcp_retransmit_skb passes err (6.13 on): its BTF typedef
// btf_trace_tcp_retransmit_skb points to a prototype of (void *, sk, skb,
// err). A program reading an argument the tracepoint has not fails to
// attach, so without BTF the two-argument program is the safe choice.
bool tracepoint_passes_err() {
  std::unique_ptr<struct btf, void (*)(struct btf*)> btf(btf__load_vmlinux_btf(), btf__free);
  if (!btf) return false;
  const __s32 id = btf__find_by_name_kind(btf.get(), "btf_trace_tcp_retransmit_skb", BTF_KIND_TYPEDEF);
  if (id < 0) return false;
  const struct btf_type* t = btf__type_by_id(btf.get(), static_cast<__u32>(id));
  if (t == nullptr || !btf_is_typedef(t)) return false;
  t = btf__type_by_id(btf.get(), t->type);
  if (t == nullptr || !btf_is_ptr(t)) return false;
  t = btf__type_by_id(btf.get(), t->type);
  return t != nullptr && btf_is_func_proto(t) && btf_vlen(t) >= 4;
}

}  // namespace

RetransmitMonitor::RetransmitMonitor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RetransmitMonitor::~RetransmitMonitor() = default;

Result<std::unique_ptr<RetransmitMonitor>> RetransmitMonitor::start(const RetransmitMonitorOptions& opts) {
  auto impl = std::make_unique<Impl>();
  impl->skel.reset(tcp_retrans_bpf__open());
  if (!impl->skel) return tracing_error("tcp_retrans_bpf__open", errno, "tcp:tcp_retransmit_skb");
  auto& s = *impl->skel;
  impl->with_err = opts.program == RetransmitProgram::automatic ? tracepoint_passes_err()
                                                                : opts.program == RetransmitProgram::with_err;
  bpf_program__set_autoload(s.progs.netring_tcp_retransmit_skb_err, impl->with_err);
  bpf_program__set_autoload(s.progs.netring_tcp_retransmit_skb, !impl->with_err);
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
  s.map_busy = (*v)[NETRING_RETRANS_STAT_MAP_BUSY];
  s.no_map = (*v)[NETRING_RETRANS_STAT_NO_MAP];
  s.unkeyed = (*v)[NETRING_RETRANS_STAT_UNKEYED];
  s.not_sent = (*v)[NETRING_RETRANS_STAT_NOT_SENT];
  // The kernel does not run a tracing program on a CPU where it is already
  // running (an interrupt's softirq retransmitting while it ran): it counts
  // the skipped run in the program's recursion_misses (5.12).
  bpf_prog_info info{};
  std::uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(program_fd(), &info, &len) == 0) s.missed = info.recursion_misses;
  return s;
}

int RetransmitMonitor::program_fd() const {
  return bpf_program__fd(impl_->with_err ? impl_->skel->progs.netring_tcp_retransmit_skb_err
                                         : impl_->skel->progs.netring_tcp_retransmit_skb);
}

const char* RetransmitMonitor::program() const {
  return impl_->with_err ? "raw_tp (sk, skb, err)" : "raw_tp (sk, skb)";
}

}  // namespace netring::kevents
