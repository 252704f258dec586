// The agent's lifecycle: start every part in dependency order, wait for
// SIGTERM/SIGINT, then stop them in reverse (hooks detached and the mirror
// link removed before exit, so a stopped agent leaves nothing in the kernel).
#include "agent/agent.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <optional>

#include <cstdio>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/agent_options.hpp"
#include "agent/api/api_server.hpp"
#include "agent/capture_api/capture_tap.hpp"
#include "agent/conntrack.hpp"
#include "agent/export/export_options.hpp"
#include "agent/export/flow_exporter.hpp"
#include "agent/hooks.hpp"
#include "agent/http/listen_address.hpp"
#include "agent/k8s/metadata.hpp"
#include "agent/log.hpp"
#include "agent/metrics/agent_metrics.hpp"
#include "agent/metrics/metrics_server.hpp"
#include "agent/model.hpp"
#include "agent/privileges.hpp"
#include "agent/publisher.hpp"
#include "agent/worker.hpp"
#include "pkg/datapath/datapath.hpp"
#include "pkg/kevents/drop_monitor.hpp"
#include "pkg/kevents/retransmit_monitor.hpp"
#include "pkg/kflow/flow_count_reader.hpp"

namespace netring::agent {

namespace {

int fail(const std::string& what, const std::string& message) {
  log::error(what, {{"error", message}});
  std::fprintf(stderr, "netring-agent: %s: %s\n", what.c_str(), message.c_str());
  return 1;
}

const char* backend_name(datapath::Rung r) {
  return r == datapath::Rung::kAfXdpMirror ? "afxdp" : "afpacket";
}

AgentStatus base_status(const Config& config, const datapath::Datapath& dp) {
  AgentStatus st;
  st.version = NETRING_VERSION;
  st.node = config.node_name;
  st.started_ns = realtime_ns();
  st.backend = backend_name(dp.rung());
  const auto& f = dp.features();
  st.kernel_features = {{"bpf", f.bpf_loading}, {"tcx", f.tcx}, {"afxdp", f.af_xdp}};
  for (const auto& step : dp.ladder()) {
    if (step.taken) {
      if (step.rung != datapath::Rung::kAfXdpMirror) st.backend_reason = "rung " + std::string(to_string(step.rung));
      continue;
    }
    st.fallbacks.push_back({"backend", to_string(step.rung), step.reason});
  }
  if (!st.fallbacks.empty()) st.backend_reason = st.fallbacks.back().reason;
  if (f.bpf_loading && !f.tcx) st.fallbacks.push_back({"hook", "clsact", "tcx not available: " + f.bpf_error});
  return st;
}

// The mirror link's samples are the agent's own: the stack frees them after
// the capture socket took its copy (AF_PACKET), which are no drops of the
// node's traffic.
kevents::DropMonitorOptions drop_options(const datapath::Datapath& dp) {
  kevents::DropMonitorOptions o;
  struct stat ns {};
  if (dp.mirror() != nullptr && ::stat("/proc/self/ns/net", &ns) == 0) {
    o.ignore_ifindexes = {static_cast<std::uint32_t>(dp.mirror()->near_ifindex()),
                          static_cast<std::uint32_t>(dp.mirror()->far_ifindex())};
    o.ignore_netns = static_cast<std::uint32_t>(ns.st_ino);
  }
  return o;
}

}  // namespace

int run_agent(const Config& config) {
  log::info("starting",
            {{"version", NETRING_VERSION}, {"node", config.node_name}, {"config", config_to_json(config).dump()}});
  // Block the stop signals and take them synchronously, so no handler runs on
  // an arbitrary thread and threads started later inherit the mask.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGHUP);
  if (pthread_sigmask(SIG_BLOCK, &stop, nullptr) != 0) return fail("pthread_sigmask", "failed");

  if (auto missing = missing_capabilities(); !missing.empty()) {
    std::string names;
    for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
    return fail("missing privileges",
                "netring-agent needs " + names +
                    " (run as root, or grant them: securityContext.capabilities.add in Kubernetes, "
                    "or setcap cap_net_admin,cap_net_raw,cap_bpf,cap_perfmon+ep)");
  }

  auto meta = k8s::Metadata::start(config, process_env());
  if (!meta) return fail("kubernetes metadata", meta.error().message());

  auto opts = agent_options(config);
  if (!opts) return fail("configuration", opts.error().message());
  auto dp = datapath::Datapath::create(opts->datapath);
  if (!dp) return fail("data path", dp.error().message());
  auto streams = (*dp)->open_sources(opts->capture);
  if (!streams) return fail("capture sources", streams.error().message());
  if (config.backend == Backend::kAfxdp && (*dp)->rung() != datapath::Rung::kAfXdpMirror)
    log::warn("--backend=afxdp requested but AF_XDP cannot serve; using afpacket",
              {{"reason", (*dp)->ladder().empty() ? "" : (*dp)->ladder().front().reason}});
  log::info("data path ready", {{"backend", backend_name((*dp)->rung())},
                                {"rung", to_string((*dp)->rung())},
                                {"workers", std::to_string(streams->size())}});

  capture_api::CaptureTap tap;
  std::vector<std::unique_ptr<Worker>> workers;
  // Forced copies exist only where the sampler runs (not on the direct rung).
  const bool sampler = (*dp)->programs() != nullptr;
  if (!sampler) opts->worker.control = {};
  for (auto& s : *streams) {
    auto w = Worker::create(std::move(s), for_workers(opts->worker, streams->size()), tap);
    if (!w) return fail("flow table", w.error().message());
    workers.push_back(std::move(w).value());
  }
  for (auto& w : workers) w->start();
  // Capture ports are opened as discovery finds them (hooks.start below).
  std::unique_ptr<CapturePorts> capture_ports;
  if (opts->capture_ports_enabled) capture_ports = std::make_unique<CapturePorts>(opts->capture_ports, tap);

  SnapshotStore store;
  metrics::AgentMetrics metrics(store, opts->flow_metrics);
  metrics::MetricsServer metrics_server(metrics, store);
  if (auto r = metrics_server.start(opts->metrics_listen); !r) return fail("metrics listener", r.error().message());

  api::ApiOptions aopts = opts->api;
  aopts.audit_log = [](const std::string& line) { log::info("capture audit", {{"event", line}}); };
  api::ApiServer api_server(aopts, store, &tap);
  if (auto r = api_server.start(); !r) return fail("api listener", r.error().message());

  // Without conntrack (no nf_conntrack_netlink, a seccomp profile that
  // denies netfilter netlink) flows still flow; only a service's backend
  // stays unresolved, and the status says why.
  std::unique_ptr<ConntrackResolver> conntrack;
  std::string conntrack_reason;
  if (auto ct = ConntrackResolver::open(); ct) {
    conntrack = std::move(ct).value();
  } else {
    conntrack_reason = ct.error().message();
    log::warn("conntrack unavailable: service backends will not be resolved", {{"error", conntrack_reason}});
  }

  // Exact flow counts exist wherever the sampler runs (both mirror rungs);
  // never on a capture port, which the sampler does not hook.
  std::optional<kflow::FlowCountReader> flow_counts;
  const datapath::Programs* progs = (*dp)->programs();
  const bool counting = progs != nullptr && opts->datapath.programs.exact_flows != datapath::ExactFlows::kOff;
  if (counting)
    flow_counts.emplace(progs->flow_maps_fd(), progs->flow_map_fd(0), progs->flow_map_fd(1), opts->flow_map_sizing);

  // Kernel events: tracing programs of their own, independent of the data
  // path's rung. A kernel that cannot run them (no BTF, no tracepoint, no
  // CAP_PERFMON) leaves them off with the reason in the log and the status.
  KernelEventStatus kevent_status;
  std::unique_ptr<kevents::DropMonitor> drop_monitor;
  std::unique_ptr<kevents::RetransmitMonitor> retransmit_monitor;
  if (!config.drops) {
    kevent_status.drops_reason = "off (--drops=off)";
  } else if (auto reasons = kevents::DropReasons::from_kernel(); !reasons) {
    kevent_status.drops_reason = reasons.error().message();
  } else if (auto m = kevents::DropMonitor::start(drop_options(**dp), std::move(reasons).value()); !m) {
    kevent_status.drops_reason = m.error().message();
  } else {
    drop_monitor = std::move(m).value();
    kevent_status.drops = true;
    kevent_status.drops_program = drop_monitor->program();
  }
  if (!config.tcp_retransmits) {
    kevent_status.tcp_retransmits_reason = "off (--tcp-retransmits=off)";
  } else if (auto m = kevents::RetransmitMonitor::start({}); !m) {
    kevent_status.tcp_retransmits_reason = m.error().message();
  } else {
    retransmit_monitor = std::move(m).value();
    kevent_status.tcp_retransmits = true;
    kevent_status.tcp_retransmits_program = retransmit_monitor->program();
  }
  if (config.drops && !kevent_status.drops)
    log::warn("packet drops unavailable: netring_drops_total and /api/v1/drops stay empty",
              {{"reason", kevent_status.drops_reason}});
  if (drop_monitor && drop_monitor->program() != "tp_btf")
    log::info("packet drops traced by the raw tracepoint (each field a helper call)",
              {{"reason", drop_monitor->fallback_reason()}});
  if (config.tcp_retransmits && !kevent_status.tcp_retransmits)
    log::warn("TCP retransmits unavailable: netring_tcp_retransmits_total stays empty",
              {{"reason", kevent_status.tcp_retransmits_reason}});

  Hooks hooks(**dp, opts->hook_rate, capture_ports.get());
  PublisherOptions popts = opts->publisher;
  popts.base_status = base_status(config, **dp);
  popts.base_status.kernel_features["drops"] = kevent_status.drops;
  popts.base_status.kernel_features["tcp_retransmits"] = kevent_status.tcp_retransmits;
  if (config.drops && !kevent_status.drops)
    popts.base_status.fallbacks.push_back({"drops", "off", kevent_status.drops_reason});
  if (drop_monitor && drop_monitor->program() != "tp_btf")
    popts.base_status.fallbacks.push_back({"drops", "raw_tp", drop_monitor->fallback_reason()});
  if (config.tcp_retransmits && !kevent_status.tcp_retransmits)
    popts.base_status.fallbacks.push_back({"tcp_retransmits", "off", kevent_status.tcp_retransmits_reason});
  if (!conntrack) popts.base_status.fallbacks.push_back({"conntrack", "off", conntrack_reason});
  popts.base_status.kernel_features["conntrack"] = conntrack != nullptr;
  popts.base_status.kernel_events = kevent_status;
  popts.drops = drop_monitor.get();
  popts.retransmits = retransmit_monitor.get();
  if (!counting) popts.exact_flows = datapath::ExactFlows::kOff;
  // top?window= and the page's service map book every publication's growth.
  popts.on_growth = [&api_server](std::uint64_t taken_ns, std::span<const FlowGrowth> growth) {
    api_server.add_growth(taken_ns, growth);
  };
  // Only the mirror's workers get the kernel's counts (capture ports' workers
  // are CapturePorts', not in `workers`).
  popts.mirror_workers = (*dp)->mirror() ? (*dp)->mirror()->queues() : streams->size();
  popts.control.dns = opts->worker.control.dns;
  popts.control.tcp_handshake = opts->worker.control.tcp_handshake;
  if ((config.dns || config.tcp_handshake) && !sampler)
    log::warn("DNS and TCP handshake tracking need the sampler program: off on this rung",
              {{"rung", to_string((*dp)->rung())}});

  std::unique_ptr<exporter::FlowExporter> flow_exporter;
  if (!config.ipfix_collector.host.empty()) {
    flow_exporter = std::make_unique<exporter::FlowExporter>(exporter::options_from(config), store);
    popts.on_ended = [e = flow_exporter.get()](std::span<const FlowView> ended) { e->enqueue_ended(ended); };
    popts.add_status = [e = flow_exporter.get()](AgentStatus& st) { e->fill_status(st); };
    flow_exporter->start();
    log::info("ipfix export",
              {{"collector", config.ipfix_collector.str()}, {"transport", to_string(config.ipfix_transport)}});
  }
  Publisher publisher(popts, workers, hooks, **meta, conntrack.get(), store, metrics,
                      flow_counts ? &*flow_counts : nullptr, capture_ports.get());
  publisher.publish_once();  // not ready yet: /readyz answers 503 until the hooks are in

  discovery::DiscoveryOptions disc = opts->discovery;
  if ((*dp)->mirror()) disc.mirror_prefix = "nr-mirror";
  if (auto r = hooks.start(disc); !r) return fail("interface discovery", r.error().message());
  publisher.set_ready(true);
  publisher.start();
  log::info("ready", {{"metrics", opts->metrics_listen.str()},
                      {"api", opts->api.listen.str()},
                      {"hooked", std::to_string(hooks.hooked().size())},
                      {"capture_api", config.enable_capture_api}});

  // --pods-from is re-read on SIGHUP and whenever the file changes (checked
  // every second): without an API server it is the only source of names.
  auto pods_mtime = [&config]() -> std::optional<std::timespec> {
    struct stat st {};
    if (config.pods_from.empty() || ::stat(config.pods_from.c_str(), &st) != 0) return std::nullopt;
    return st.st_mtim;
  };
  auto last_mtime = pods_mtime();
  auto reload_pods = [&] {
    auto n = (*meta)->reload_pods_file(config.pods_from);
    if (n)
      log::info("reloaded pods", {{"file", config.pods_from}, {"pods", std::to_string(*n)}});
    else
      log::warn("reloading --pods-from failed; keeping the previous names", {{"error", n.error().message()}});
  };
  int sig = 0, exit_code = 0;
  for (;;) {
    const timespec one_second{1, 0};
    sig = sigtimedwait(&stop, nullptr, &one_second);
    if (sig == SIGTERM || sig == SIGINT) break;
    // Someone deleted the mirror link: no sample reaches this process any
    // more (pods are unaffected: the sampler's clone just fails, counted).
    // Stopping cleanly lets the kubelet's restart make a new one, rather
    // than reporting an empty node as healthy.
    if ((*dp)->mirror() && !(*dp)->mirror()->present()) {
      log::error("the mirror link was deleted by someone else; stopping so that a restart recreates it",
                 {{"link", (*dp)->mirror()->near_name()}});
      exit_code = 1;
      break;
    }
    if (config.pods_from.empty()) continue;
    auto m = pods_mtime();
    const bool changed = m && (!last_mtime || m->tv_sec != last_mtime->tv_sec || m->tv_nsec != last_mtime->tv_nsec);
    if (sig == SIGHUP || changed) {
      last_mtime = m;
      reload_pods();
    }
  }
  log::info("stopping", {{"signal", exit_code ? "none" : sig == SIGTERM ? "SIGTERM" : "SIGINT"}});

  // Reverse order: no new hooks, then a last publication while the workers
  // still answer (the flush), then detach everything before the mirror goes.
  hooks.stop();
  publisher.stop();
  publisher.set_ready(false);
  publisher.publish_once();
  if (flow_exporter) flow_exporter->stop();  // the last round: every live flow, forced end
  api_server.stop();
  metrics_server.stop();
  hooks.unhook_all();  // capture ports too: their workers stop, their XDP programs go
  capture_ports.reset();
  for (auto& w : workers) w->stop();
  workers.clear();  // the streams go before the Datapath that feeds them
  dp->reset();      // detaches the mirror hook and deletes the mirror link
  (*meta)->stop();
  log::info("stopped");
  return exit_code;
}

}  // namespace netring::agent
