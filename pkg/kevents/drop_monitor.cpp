#include "pkg/kevents/drop_monitor.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

#include "bpf/drops.skel.h"
#include "pkg/bpf/skeleton.hpp"
#include "pkg/kevents/bpf_error.hpp"
#include "pkg/kevents/percpu.hpp"
#include "pkg/kevents/swapped_maps.hpp"

namespace netring::kevents {

struct DropMonitor::Impl {
  bpf::Skeleton<drops_bpf, drops_bpf__destroy> skel;
  std::unique_ptr<ring_buffer, void (*)(ring_buffer*)> ring{nullptr, ring_buffer__free};
  std::unique_ptr<SwappedMaps> maps;
  std::vector<DropEvent>* sink = nullptr;  // poll_events' output while it runs
};

namespace {

int on_event(void* ctx, void* data, std::size_t size) {
  auto* impl = static_cast<DropMonitor::Impl*>(ctx);
  if (impl->sink == nullptr || size < sizeof(netring_drop_event)) return 0;
  netring_drop_event e;
  std::memcpy(&e, data, sizeof e);
  DropEvent d;
  std::memcpy(static_cast<void*>(&d.key), &e.flow, sizeof d.key);  // same layout (flow_key.h)
  d.reason = e.reason;
  d.ifindex = e.ifindex;
  d.bytes = e.bytes;
  d.ts_ns = e.ts_ns;
  d.location = e.location;
  impl->sink->push_back(d);
  return 0;
}

}  // namespace

DropMonitor::DropMonitor(std::unique_ptr<Impl> impl, DropReasons reasons)
    : impl_(std::move(impl)), reasons_(std::move(reasons)) {}

DropMonitor::~DropMonitor() = default;

namespace {

// Opens, sets up and loads the object with one of its two programs.
Result<void> load(DropMonitor::Impl& impl, const DropMonitorOptions& opts, const DropReasons& reasons, bool btf) {
  impl.skel.reset(drops_bpf__open());
  if (!impl.skel) return tracing_error("drops_bpf__open", errno, "skb:kfree_skb");
  auto& s = *impl.skel;
  bpf_program__set_autoload(s.progs.netring_kfree_skb_btf, btf);
  bpf_program__set_autoload(s.progs.netring_kfree_skb, !btf);
  const std::uint32_t entries = opts.map_entries == 0 ? 1 : opts.map_entries;
  for (bpf_map* m : {s.maps.drops_a, s.maps.drops_b})
    if (int err = bpf_map__set_max_entries(m, entries); err != 0)
      return tracing_error("bpf_map__set_max_entries", err, "drop maps");
  s.rodata->reason_not_dropped = reasons.not_dropped();
  s.rodata->reason_consumed = reasons.consumed().value_or(~0u);
  s.rodata->events_per_sec = opts.events_per_sec;
  s.rodata->storm_drops_per_sec = opts.storm_drops_per_sec;
  s.rodata->storm_one_in = opts.storm_one_in == 0 ? 1 : opts.storm_one_in;
  for (std::size_t i = 0; i < opts.ignore_ifindexes.size(); ++i) s.rodata->ignore_ifindex[i] = opts.ignore_ifindexes[i];
  s.rodata->ignore_netns = opts.ignore_ifindexes.empty() ? 0 : opts.ignore_netns;
  if (int err = drops_bpf__load(&s); err != 0)
    return tracing_error("drops_bpf__load", err, btf ? "tp_btf/kfree_skb" : "raw_tp/kfree_skb", true);
  return {};
}

}  // namespace

Result<std::unique_ptr<DropMonitor>> DropMonitor::start(const DropMonitorOptions& opts, DropReasons reasons) {
  if (opts.ignore_ifindexes.size() > NETRING_DROP_IGNORE_MAX)
    return Error::invalid("DropMonitor::start",
                          "more than " + std::to_string(NETRING_DROP_IGNORE_MAX) + " interfaces to ignore");
  auto impl = std::make_unique<Impl>();
  bool btf = opts.attach && !opts.raw_tracepoint_only;
  std::string fallback = !opts.attach               ? "loaded for BPF_PROG_TEST_RUN, which runs no tp_btf program"
                         : opts.raw_tracepoint_only ? "raw_tp asked for"
                                                    : "";
  if (btf) {
    if (auto r = load(*impl, opts, reasons, true); !r) {
      fallback = "tp_btf/kfree_skb did not load: " + r.error().message();
      btf = false;
    }
  }
  if (!btf)
    if (auto r = load(*impl, opts, reasons, false); !r) return r.error();
  auto& s = *impl->skel;
  if (opts.attach) {
    if (int err = drops_bpf__attach(&s); err != 0)
      return tracing_error(btf ? "bpf_link_create" : "bpf_raw_tracepoint_open", err, "skb:kfree_skb");
  }
  impl->maps =
      std::make_unique<SwappedMaps>(bpf_map__fd(s.maps.drop_maps), bpf_map__fd(s.maps.drops_a),
                                    bpf_map__fd(s.maps.drops_b), sizeof(netring_drop_key), sizeof(netring_drop_counts));
  impl->ring.reset(ring_buffer__new(bpf_map__fd(s.maps.drop_events), on_event, impl.get(), nullptr));
  if (!impl->ring) return tracing_error("ring_buffer__new", errno, "drop events");
  auto m = std::unique_ptr<DropMonitor>(new DropMonitor(std::move(impl), std::move(reasons)));
  m->program_ = btf ? "tp_btf" : "raw_tp";
  m->fallback_reason_ = std::move(fallback);
  return m;
}

Result<std::size_t> DropMonitor::drain(std::vector<DropCount>& out) {
  // A new map is in the slot once drain() swapped: CPUs that found the old
  // one full try inserting again (drops.bpf.c, map_gen). The .bss is
  // mmapped; the program reads the word once per drop.
  struct BumpGeneration {
    drops_bpf& s;
    ~BumpGeneration() { __atomic_add_fetch(&s.bss->map_gen, 1, __ATOMIC_RELEASE); }
  } bump{*impl_->skel};
  return impl_->maps->drain([&out](const void* k, const void* v) {
    netring_drop_key key;
    std::memcpy(&key, k, sizeof key);
    DropCount c;
    std::memcpy(static_cast<void*>(&c.key), &key.flow, sizeof c.key);
    c.reason = key.reason;
    std::memcpy(&c.counts, v, sizeof c.counts);
    out.push_back(c);
  });
}

Result<std::size_t> DropMonitor::poll_events(std::vector<DropEvent>& out) {
  const std::size_t before = out.size();
  impl_->sink = &out;
  const int n = ring_buffer__consume(impl_->ring.get());
  impl_->sink = nullptr;
  if (n < 0) return Error("ring_buffer__consume", -n, "drop events");
  return out.size() - before;
}

namespace {

// Sums over CPUs of the drop program's per-CPU counters (stats, then the
// reasons), read in one syscall.
Result<std::vector<std::uint64_t>> drop_cpu_sums(int map_fd) {
  auto per = percpu_entries<netring_drop_cpu>(map_fd, 0, "drop per-CPU counters");
  if (!per) return per.error();
  std::vector<std::uint64_t> sums(NETRING_DROP_STAT_MAX + NETRING_DROP_REASON_SLOTS);
  for (const auto& c : *per) {
    for (std::size_t i = 0; i < NETRING_DROP_STAT_MAX; ++i) sums[i] += c.stats[i];
    for (std::size_t i = 0; i < NETRING_DROP_REASON_SLOTS; ++i) sums[NETRING_DROP_STAT_MAX + i] += c.reasons[i];
  }
  return sums;
}

}  // namespace

Result<DropStats> DropMonitor::stats() const {
  auto v = drop_cpu_sums(bpf_map__fd(impl_->skel->maps.drop_cpu));
  if (!v) return v.error();
  DropStats s;
  s.seen = (*v)[NETRING_DROP_STAT_SEEN];
  s.not_drop = (*v)[NETRING_DROP_STAT_NOT_DROP];
  s.counted = (*v)[NETRING_DROP_STAT_COUNTED];
  s.unparsed = (*v)[NETRING_DROP_STAT_UNPARSED];
  s.map_full = (*v)[NETRING_DROP_STAT_MAP_FULL];
  s.no_map = (*v)[NETRING_DROP_STAT_NO_MAP];
  s.events = (*v)[NETRING_DROP_STAT_EVENTS];
  s.suppressed = (*v)[NETRING_DROP_STAT_SUPPRESSED];
  s.event_lost = (*v)[NETRING_DROP_STAT_EVENT_LOST];
  s.ignored = (*v)[NETRING_DROP_STAT_IGNORED];
  s.storm_skipped = (*v)[NETRING_DROP_STAT_STORM_SKIPPED];
  return s;
}

Result<std::vector<std::pair<std::uint32_t, std::uint64_t>>> DropMonitor::reason_totals() const {
  auto v = drop_cpu_sums(bpf_map__fd(impl_->skel->maps.drop_cpu));
  if (!v) return v.error();
  std::vector<std::pair<std::uint32_t, std::uint64_t>> out;
  for (std::uint32_t i = 0; i < NETRING_DROP_REASON_SLOTS; ++i)
    if (const auto n = (*v)[NETRING_DROP_STAT_MAX + i]; n != 0) out.emplace_back(i, n);
  return out;
}

int DropMonitor::program_fd() const {
  const auto& p = impl_->skel->progs;
  return bpf_program__fd(program_ == "tp_btf" ? p.netring_kfree_skb_btf : p.netring_kfree_skb);
}

}  // namespace netring::kevents
