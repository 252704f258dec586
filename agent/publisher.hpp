// Every period (about a second): collects the workers' reports, merges their
// flow tables, names both ends of every flow from the Kubernetes index (and,
// for flows to a Service address, the backend conntrack DNAT'ed them to,
// looked up once per new flow), decides the reporting side and direction,
// and publishes an AgentSnapshot with the exact interface counters and the
// agent's status. The same thread feeds the flow counters of AgentMetrics
// and refreshes the data path's heartbeat.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "agent/conntrack.hpp"
#include "agent/control_packets.hpp"
#include "agent/hooks.hpp"
#include "agent/k8s/metadata.hpp"
#include "agent/metrics/agent_metrics.hpp"
#include "agent/model.hpp"
#include "agent/wall_clock_offset.hpp"
#include "agent/worker.hpp"
#include "pkg/datapath/programs.hpp"
#include "pkg/flow/unseen_rate.hpp"
#include "pkg/kevents/drop_monitor.hpp"
#include "pkg/kevents/retransmit_monitor.hpp"
#include "pkg/kflow/flow_count_reader.hpp"

namespace netring::agent {

struct PublisherOptions {
  std::string node_name;
  std::chrono::milliseconds period{1000};
  AgentStatus base_status;  // version, node, backend, features, fallbacks
  // The sampler's 1-in-N on every hooked interface: scales what a flow's
  // unseen packets can hide (flow::estimate_bytes_l3 with a rate).
  std::uint32_t sample_rate = 1;
  // The same for flows seen on capture ports (--capture-sample-rate).
  std::uint32_t capture_sample_rate = 1;
  // The sampler's copy budget (--copy-budget), for the status.
  std::uint32_t copy_budget = 0;
  // How long a flow record spans at most (the tables' active timeout, plus
  // their sweep): the drawn rates its interval must allow for are those of
  // this long back.
  std::chrono::milliseconds unseen_window{130'000};
  // What the kernel counts exactly; with kAll and no packet left uncounted
  // since the start, no flow has unseen packets.
  datapath::ExactFlows exact_flows = datapath::ExactFlows::kOff;
  // Workers fed by the mirror's queues (the first ones): a flow's exact
  // counts go to worker flow_key_hash(key) % mirror_workers.
  std::size_t mirror_workers = 1;
  // Hooks for the flow exporter (agent/export), called on the publisher's
  // thread; either may be empty. on_ended gets the flows that left the
  // tables this round, before the snapshot without them is published; it
  // must not block. add_status adds the exporter's status to the snapshot.
  std::function<void(std::span<const FlowView>)> on_ended;
  // Gets what every flow grew by since the previous publication (the API's
  // rate history), on the publisher's thread before the snapshot is
  // published; every round, so no growth falls between two calls. May be
  // empty.
  std::function<void(std::uint64_t taken_ns, std::span<const FlowGrowth>)> on_growth;
  std::function<void(AgentStatus&)> add_status;
  // DNS and TCP handshake tracking from the workers' control events.
  ControlPacketsOptions control;
  std::size_t recent_dns = 4096;  // DNS records the snapshot keeps (the API's window)
  // Kernel events (pkg/kevents), each null when off or unavailable; owned
  // by the caller, who keeps them alive while the publisher runs.
  kevents::DropMonitor* drops = nullptr;
  kevents::RetransmitMonitor* retransmits = nullptr;
  std::size_t recent_drops = 1000;  // drop details kept for /api/v1/drops
  // Rounds a flow key's retransmit total is kept after its last
  // retransmission while no live flow shows it.
  std::uint64_t retransmit_keep_rounds = 300;
  // Flow keys whose retransmit totals are kept for the flows' tcp_retransmits;
  // keys past it are counted in the metrics only.
  std::size_t retransmit_max_keys = 65536;
  // Flows whose DNS tallies are kept (both directions of an exchange count).
  std::size_t dns_max_flows = 65536;
};

class Publisher {
 public:
  // `conntrack` may be null (no CAP_NET_ADMIN over conntrack, or disabled);
  // `flow_counts` null when the kernel counts no flows (no BPF, or off);
  // `capture` null without capture ports.
  Publisher(PublisherOptions opts, std::span<const std::unique_ptr<Worker>> workers, Hooks& hooks,
            const k8s::Metadata& metadata, ConntrackResolver* conntrack, SnapshotStore& store,
            metrics::AgentMetrics& metrics, kflow::FlowCountReader* flow_counts = nullptr,
            CapturePorts* capture = nullptr);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  void start();
  void stop();
  // One round, on the caller's thread (the final flush at shutdown).
  void publish_once();
  void set_ready(bool ready);

 private:
  void run();
  // Reads the kernel's exact counts of the period and hands each flow's to
  // its worker.
  void distribute_exact_counts();
  // `capture`: a capture port's flow (reporter kCapture, an id of its own).
  FlowView view_of(const flow::FlowKey& key, const flow::FlowRecord& r,
                   const std::map<std::uint32_t, HookedLink>& links, bool capture = false);
  // Endpoints, ports, protocol and identities of a key; nothing else.
  FlowView endpoints_of(const flow::FlowKey& key, bool capture = false);
  // Feeds this round's control events to the matchers, the metrics and the
  // recent DNS records.
  void track_control(std::uint64_t now_mono_ns);
  DnsRecord dns_record(const dns::Exchange& x);
  Identity identity_of(const IpAddress& ip) const;
  // identity_of through this round's cache: flows between the same
  // endpoints share one Identity.
  IdentityRef shared_identity_of(const IpAddress& ip);
  std::shared_ptr<const std::vector<std::string>> interfaces_of(const flow::FlowRecord& r,
                                                                const std::map<std::uint32_t, HookedLink>& links);
  void resolve_backend(const flow::FlowKey& key, FlowView& v);
  // Drains the kernel's drop and retransmit counts of the period into the
  // metrics and the per-flow retransmit totals, and the drop details into
  // the recent list; fills st.kernel_events.
  void collect_kernel_events(const std::map<std::uint32_t, HookedLink>& links, KernelEventStatus& st);

  PublisherOptions opts_;
  std::span<const std::unique_ptr<Worker>> workers_;
  Hooks& hooks_;
  const k8s::Metadata& metadata_;
  ConntrackResolver* conntrack_;
  SnapshotStore& store_;
  metrics::AgentMetrics& metrics_;
  kflow::FlowCountReader* flow_counts_;
  CapturePorts* capture_;

  // Publisher thread only.
  // Each worker's latest report: cumulative counters; its flows only until
  // they are in the snapshot.
  std::vector<WorkerReport> last_;
  std::shared_ptr<const AgentSnapshot> published_;  // what the previous round published
  std::vector<std::uint16_t> published_workers_;    // per flow of published_: bit i = worker i held it
  std::vector<FlowGrowth> growth_;                  // the round's growth for on_growth (kept while small)
  // flow id -> destination identity with the backend conntrack chose
  // (nullopt: no pod behind it), resolved once per flow.
  std::unordered_map<std::uint64_t, std::optional<IdentityRef>> backends_;
  // Per round (cleared at its start, so names follow the index): address ->
  // identity, and interface set -> names.
  std::unordered_map<IpAddress, IdentityRef, IpAddressHash> identities_;
  std::map<std::array<std::uint32_t, flow::FlowRecord::kMaxInterfaces>, std::shared_ptr<const std::vector<std::string>>>
      interface_lists_;
  std::uint64_t seed_;
  std::uint64_t gone_cursor_ = 0;  // k8s::Index::pods_gone_since()
  // This round's view: CLOCK_REALTIME - CLOCK_MONOTONIC (flow times are
  // monotonic; the API shows wall-clock times), and the rate whose unseen
  // packets a flow's interval must cover (1: none unseen).
  std::int64_t realtime_offset_ns_ = 0;
  WallClockOffset wall_clock_;  // steady across rounds unless the clock moved
  std::uint32_t unseen_rate_ = 1;
  flow::UnseenRate drawn_rates_{static_cast<std::uint64_t>(opts_.unseen_window.count()) * 1'000'000};
  std::vector<kflow::KernelFlow> drained_;  // reused each round
  std::uint64_t exact_drain_errors_ = 0;
  bool resize_error_logged_ = false;  // the first kernel flow map resize error was logged
  ControlPackets control_;
  std::deque<DnsRecord> dns_recent_;
  std::shared_ptr<const std::vector<DnsRecord>> dns_published_;
  bool dns_changed_ = true;
  std::uint64_t dns_seq_ = 0;

  struct RetransmitTotal {
    std::uint64_t segments = 0;
    std::uint32_t srtt_us = 0;
    std::uint64_t round = 0;  // the latest round that added to it or showed it in a flow
  };
  std::uint64_t round_ = 0;
  // By flow id (flow::hash_key with seed_, as FlowView::id): a flow carried
  // over from the previous snapshot (a late worker) is updated by its id.
  std::unordered_map<std::uint64_t, RetransmitTotal> retransmits_;
  // DNS tallies by flow id (both directions of an exchange), kept like the
  // retransmit totals: while a flow shows them or exchanges add to them.
  struct DnsTally {
    FlowDnsView view;
    std::uint64_t round = 0;
  };
  std::unordered_map<std::uint64_t, DnsTally> dns_by_flow_;
  void tally_dns(const dns::Exchange& x);
  std::deque<DropView> recent_drops_;
  std::shared_ptr<const std::vector<DropView>> drops_published_;
  std::vector<kevents::DropCount> drop_counts_;  // reused each round
  std::vector<kevents::DropEvent> drop_events_;
  std::vector<kevents::RetransmitCount> retransmit_counts_;
  std::uint64_t kevent_errors_ = 0;

  std::atomic<bool> ready_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace netring::agent
