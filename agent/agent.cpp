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

Result<http::ListenAddress> listen_of(const HostPort& hp) {
  return http::parse_listen_address(hp.str());
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

  datapath::DatapathOptions dopts;
  dopts.workers = config.workers;
  dopts.programs.snap_len = config.snap_len;
  switch (config.exact_flows) {
    case ExactFlows::kOff: dopts.programs.exact_flows = datapath::ExactFlows::kOff; break;
    case ExactFlows::kBulk: dopts.programs.exact_flows = datapath::ExactFlows::kBulk; break;
    case ExactFlows::kAll: dopts.programs.exact_flows = datapath::ExactFlows::kAll; break;
  }
  // The kernel holds the flows active within one publication period; the
  // tables hold every flow the agent keeps, so that bounds it too.
  dopts.programs.flow_map_entries =
      static_cast<std::uint32_t>(std::min<std::uint64_t>(config.flow_table_size, 1u << 22));
  if (config.backend == Backend::kAfpacket) dopts.highest_rung = datapath::Rung::kAfPacketMirror;
  auto dp = datapath::Datapath::create(dopts);
  if (!dp) return fail("data path", dp.error().message());
  datapath::CaptureOptions copts;
  copts.direct_sample_rate = config.sample_rate;
  auto streams = (*dp)->open_sources(copts);
  if (!streams) return fail("capture sources", streams.error().message());
  if (config.backend == Backend::kAfxdp && (*dp)->rung() != datapath::Rung::kAfXdpMirror)
    log::warn("--backend=afxdp requested but AF_XDP cannot serve; using afpacket",
              {{"reason", (*dp)->ladder().empty() ? "" : (*dp)->ladder().front().reason}});
  log::info("data path ready", {{"backend", backend_name((*dp)->rung())},
                                {"rung", to_string((*dp)->rung())},
                                {"workers", std::to_string(streams->size())}});

  capture_api::CaptureTap tap;
  std::vector<std::unique_ptr<Worker>> workers;
  WorkerOptions wopts;
  wopts.table.max_flows = std::max<std::size_t>(1, config.flow_table_size / std::max<std::size_t>(1, streams->size()));
  wopts.table.idle_timeout_ns = static_cast<std::uint64_t>(config.flow_idle_timeout.count()) * 1'000'000;
  wopts.table.active_timeout_ns = static_cast<std::uint64_t>(config.flow_active_timeout.count()) * 1'000'000;
  for (auto& s : *streams) {
    auto w = Worker::create(std::move(s), wopts, tap);
    if (!w) return fail("flow table", w.error().message());
    workers.push_back(std::move(w).value());
  }
  for (auto& w : workers) w->start();

  SnapshotStore store;
  metrics::AgentMetrics metrics(store, metrics::FlowMetricsOptions{
                                           .level = config.label_level,
                                           .max_series = config.max_series,
                                           .pod_grace_period = config.pod_grace_period,
                                       });
  metrics::MetricsServer metrics_server(metrics, store);
  auto mlisten = listen_of(config.metrics_listen);
  if (!mlisten) return fail("--metrics-listen", mlisten.error().message());
  if (auto r = metrics_server.start(*mlisten); !r) return fail("metrics listener", r.error().message());

  api::ApiOptions aopts;
  auto alisten = listen_of(config.api_listen);
  if (!alisten) return fail("--api-listen", alisten.error().message());
  aopts.listen = *alisten;
  aopts.capture.enabled = config.enable_capture_api;
  aopts.capture.max_duration = config.capture_max_duration;
  aopts.capture.max_packets = config.capture_max_packets;
  aopts.capture.snap_len = config.snap_len;
  aopts.audit_log = [](const std::string& line) { log::info("capture audit", {{"event", line}}); };
  api::ApiServer api_server(aopts, store, &tap);
  if (auto r = api_server.start(); !r) return fail("api listener", r.error().message());

  std::unique_ptr<ConntrackResolver> conntrack;
  if (auto ct = ConntrackResolver::open(); ct) {
    conntrack = std::move(ct).value();
  } else {
    log::warn("conntrack unavailable: service backends will not be resolved", {{"error", ct.error().message()}});
  }

  // Exact flow counts exist wherever the sampler runs (both mirror rungs).
  std::optional<kflow::FlowCountReader> flow_counts;
  const datapath::Programs* progs = (*dp)->programs();
  const bool counting = progs != nullptr && config.exact_flows != ExactFlows::kOff;
  if (counting) flow_counts.emplace(progs->flow_maps_fd(), progs->flow_map_fd(0), progs->flow_map_fd(1));

  Hooks hooks(**dp, config.sample_rate);
  PublisherOptions popts;
  popts.node_name = config.node_name;
  popts.base_status = base_status(config, **dp);
  popts.sample_rate = config.sample_rate;
  popts.exact_flows = counting ? dopts.programs.exact_flows : datapath::ExactFlows::kOff;
  popts.mirror_workers = (*dp)->mirror() ? (*dp)->mirror()->queues() : streams->size();

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
                      flow_counts ? &*flow_counts : nullptr);
  publisher.publish_once();  // not ready yet: /readyz answers 503 until the hooks are in

  discovery::DiscoveryOptions disc;
  disc.include = config.interfaces_include;
  disc.exclude = config.interfaces_exclude;
  disc.physical_interfaces = config.physical_interfaces;
  if ((*dp)->mirror()) disc.mirror_prefix = "nr-mirror";
  if (auto r = hooks.start(disc); !r) return fail("interface discovery", r.error().message());
  publisher.set_ready(true);
  publisher.start();
  log::info("ready", {{"metrics", mlisten->str()},
                      {"api", alisten->str()},
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
  int sig = 0;
  for (;;) {
    const timespec one_second{1, 0};
    sig = sigtimedwait(&stop, nullptr, &one_second);
    if (sig == SIGTERM || sig == SIGINT) break;
    if (config.pods_from.empty()) continue;
    auto m = pods_mtime();
    const bool changed = m && (!last_mtime || m->tv_sec != last_mtime->tv_sec || m->tv_nsec != last_mtime->tv_nsec);
    if (sig == SIGHUP || changed) {
      last_mtime = m;
      reload_pods();
    }
  }
  log::info("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});

  // Reverse order: no new hooks, then a last publication while the workers
  // still answer (the flush), then detach everything before the mirror goes.
  hooks.stop();
  publisher.stop();
  publisher.set_ready(false);
  publisher.publish_once();
  if (flow_exporter) flow_exporter->stop();  // the last round: every live flow, forced end
  api_server.stop();
  metrics_server.stop();
  hooks.unhook_all();
  for (auto& w : workers) w->stop();
  workers.clear();  // the streams go before the Datapath that feeds them
  dp->reset();      // detaches the mirror hook and deletes the mirror link
  (*meta)->stop();
  log::info("stopped");
  return 0;
}

}  // namespace netring::agent
