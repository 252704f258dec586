// The agent's read model: what the metrics, the HTTP API and the capture API
// see of the flow tables and the data path.
//
// Readers never touch a worker's flow table: the integration publishes merged,
// immutable snapshots (AgentSnapshot) through a SnapshotProvider, and the
// readers keep a shared_ptr to one while they work. Flow values are exact
// where the kernel counted the flow's packets (--exact-flows) and estimates
// for the rest (sampled with p = min(1, gso_segs / N), weight 1/p);
// interface counters are exact (counted by the sampler on every packet).
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/ip_address.hpp"

namespace netring::agent {

// Who is behind an address, as the Kubernetes index resolved it. Empty fields
// are unknown. kind is the workload's controller kind (Deployment,
// DaemonSet, StatefulSet, Job, ...; "Pod" for a bare pod).
struct Identity {
  std::string node;
  std::string ns;  // "namespace" is a keyword
  std::string workload;
  std::string kind;
  std::string pod;
  std::string service;  // when the address was a service's (ClusterIP/NodePort before DNAT)

  bool is_pod() const { return !pod.empty(); }
  bool empty() const { return node.empty() && ns.empty() && workload.empty() && pod.empty() && service.empty(); }
};

// An immutable Identity shared by every flow between the same endpoints: a
// snapshot of 100k flows names a few hundred pods, and six strings per end
// per flow (2 x 192 bytes, plus their heap for long names) were most of a
// flow's memory. Reads go through -> or the conversion to const Identity&.
class IdentityRef {
 public:
  IdentityRef() : p_(empty_identity()) {}
  IdentityRef(Identity id)  // NOLINT(google-explicit-constructor): a FlowView is filled with Identities
      : p_(std::make_shared<const Identity>(std::move(id))) {}
  const Identity& operator*() const { return *p_; }
  const Identity* operator->() const { return p_.get(); }
  operator const Identity&() const { return *p_; }  // NOLINT(google-explicit-constructor)

 private:
  static const std::shared_ptr<const Identity>& empty_identity();
  std::shared_ptr<const Identity> p_;
};

// ingress/egress is relative to the hooked interface as the kernel names the
// hook (host side of a pod veth: the pod's egress is the veth's ingress); the
// flow engine translates it so that "egress" means leaving the reporting
// endpoint (pod or node) and "ingress" means arriving at it.
enum class FlowDirection : std::uint8_t { kUnknown, kIngress, kEgress };
// Which end of the flow this node is: cross-node pod-to-pod traffic is seen by
// both nodes, so cluster sums select one reporter (as Hubble and NetObserv).
// kCapture: seen on a capture port (mirrored copies of traffic that may
// belong to any node), kept apart from the node's own flows.
enum class Reporter : std::uint8_t { kSource, kDestination, kCapture };
// Why a flow left its table; kNone while it lives (the flows a publication
// reports as ended carry the reason).
enum class FlowEndReason : std::uint8_t { kNone, kIdleTimeout, kActiveTimeout, kEvicted };

const char* to_string(FlowDirection d);
const char* to_string(Reporter r);
// "tcp", "udp", "icmp", "icmpv6", "sctp", or the decimal number.
std::string protocol_name(std::uint8_t proto);
// Inverse of protocol_name; also accepts a decimal number 0..255.
std::optional<std::uint8_t> parse_protocol(std::string_view name);

// A TCP flow's connection set-up, from the control packets the sampler
// always copies (--tcp-handshake): exact, not sampled.
struct TcpHandshakeView {
  bool client_is_src = true;           // this flow's source sent the SYN
  bool established = false;            // SYN, SYN-ACK and the client's ACK seen
  std::uint64_t syn_to_synack_ns = 0;  // 0: not measured
  std::uint64_t synack_to_ack_ns = 0;
  std::uint32_t syns = 0;         // SYNs sent (more than 1: retransmitted)
  const char* reset_by = "none";  // "none", "client", "server"
  const char* fin_by = "none";
};

// The DNS exchanges of a flow between a client and a DNS server (--dns):
// the query direction's flow and the response direction's carry the same
// tally. Exact (every DNS message is copied), as /api/v1/dns lists them.
struct FlowDnsView {
  std::uint64_t exchanges = 0;  // answered + timeouts + unmatched responses
  std::uint64_t answered = 0, timeouts = 0, unmatched = 0;
  std::uint64_t queries = 0;                    // query messages, retries included
  std::map<std::string, std::uint64_t> rcodes;  // responses by code name
  std::string last_qname;
  std::uint64_t last_latency_ns = 0, max_latency_ns = 0;  // answered exchanges
};

// What few flows carry, kept out of a flow's view (see FlowView::extras).
struct FlowExtras {
  std::optional<TcpHandshakeView> handshake;
  std::optional<FlowDnsView> dns;
};

struct FlowView {
  // Stable while the flow lives in its table; with first_seen_ns it tells a
  // flow apart from a later one that reuses the key.
  std::uint64_t id = 0;
  IpAddress src, dst;
  std::uint16_t src_port = 0, dst_port = 0;
  // The one-byte fields and tcp_srtt_us together, after the ports: every
  // byte of padding here is paid per flow twice a publication
  // (bench/agent_load.sh: RSS at 100k flows).
  std::uint8_t protocol = 0;                  // IPPROTO_*
  std::uint8_t icmp_type = 0, icmp_code = 0;  // ICMP/ICMPv6 only
  FlowDirection direction = FlowDirection::kUnknown;
  Reporter reporter = Reporter::kSource;
  std::uint8_t tcp_flags = 0;  // union of the flags seen (TH_FIN = 0x01 ... TH_CWR = 0x80)
  // The overflow record (flow::FlowTable::overflow): no endpoints.
  bool overflow = false;
  FlowEndReason end_reason = FlowEndReason::kNone;
  // The socket's smoothed RTT at the latest retransmission (0: none seen;
  // see tcp_retransmits).
  std::uint32_t tcp_srtt_us = 0;
  IdentityRef src_id, dst_id;

  // Exact kernel counts plus Horvitz-Thompson estimates (sum of 1/p over
  // the samples of packets the kernel did not count).
  double packets = 0;     // skbs: a GSO super-packet is one packet, as conntrack counts (wire packets: segments)
  double bytes = 0;       // L3: IP header + payload, one IP header per skb (conntrack's unit)
  double wire_bytes = 0;  // what the wire carries: each segment's L2-L4 headers + payload (no FCS)
  // Standard error of `bytes` (sqrt of sum of (1-p)/p^2 * len^2, plus what
  // unseen packets can hide); 0 when every packet was counted or taken.
  double bytes_stderr = 0;
  std::uint64_t samples = 0;
  std::uint64_t first_seen_ns = 0;  // CLOCK_REALTIME
  std::uint64_t last_seen_ns = 0;
  // CLOCK_MONOTONIC of the record's start: with id, what tells this flow
  // from a later one of the same key (a wall-clock step cannot change it).
  std::uint64_t start_mono_ns = 0;
  // Where it was sampled; shared by the flows seen on the same interfaces.
  std::shared_ptr<const std::vector<std::string>> interfaces;
  // The first interface its packets entered (sampled on that interface's
  // ingress hook) and left through (egress hook); 0 = not seen.
  std::uint32_t ingress_ifindex = 0, egress_ifindex = 0;
  // Out of line, one pointer for both (null: neither): few flows carry them.
  std::shared_ptr<const FlowExtras> extras;
  const TcpHandshakeView* handshake() const { return extras && extras->handshake ? &*extras->handshake : nullptr; }
  const FlowDnsView* dns() const { return extras && extras->dns ? &*extras->dns : nullptr; }
  // TCP segments this flow's sender retransmitted, as the kernel counted
  // them (tcp:tcp_retransmit_skb, the unit of TcpRetransSegs) since the
  // agent first saw a retransmission of the key. Only for senders on this
  // node.
  std::uint64_t tcp_retransmits = 0;
};
// Checked so that a new field finds a hole instead of adding one.
static_assert(sizeof(FlowView) <= 200, "FlowView grew: it is copied per flow twice a publication");

// What one flow grew by since the previous publication (or, for a flow
// evicted in between, since its last publication up to its eviction).
// metrics::FlowDeltaTracker works it out once a publication for everything
// that books growth: the metrics' counters and the API's rate history.
// `flow` points into that publication's live or ended flows, valid for the
// length of the call it is handed to.
struct FlowGrowth {
  const FlowView* flow = nullptr;
  double packets = 0, bytes = 0;
};

// One DNS exchange (--dns): a query matched to its response, a query that
// timed out, or a response whose query was not seen. Every DNS message is
// copied by the sampler, so these are exact.
struct DnsRecord {
  std::uint64_t seq = 0;  // increases by one per record, agent-wide
  // Client -> server as the query was addressed (a Service's address, the
  // pod behind it in dst_id when the response came from one); only the
  // endpoints, ports, protocol and identities are set.
  FlowView flow;
  IpAddress responder;  // where the response came from (unset: none)
  std::string qname;    // lower case, at most 253 characters; empty when not captured
  std::uint16_t qtype = 0;
  int rcode = -1;                    // -1: no response
  const char* outcome = "answered";  // "answered", "timeout", "unmatched_response"
  std::uint64_t query_ns = 0;        // CLOCK_REALTIME; 0 for an unmatched response
  std::uint64_t response_ns = 0;     // 0 for a timeout
  std::uint64_t latency_ns = 0;      // answered only
  std::uint32_t queries = 0;         // copies of the query (retries)
};

// DNS and TCP handshake tracking in the agent (--dns, --tcp-handshake).
struct ControlStatus {
  bool dns = false;
  bool tcp_handshake = false;
  std::uint64_t dns_queries = 0, dns_responses = 0, dns_answered = 0, dns_timeouts = 0, dns_unmatched = 0;
  std::uint64_t dns_retries = 0, dns_pending = 0, dns_table_full = 0;
  std::map<std::string, std::uint64_t> dns_malformed;  // messages not usable, by reason
  std::uint64_t dns_events_dropped = 0, tcp_events_dropped = 0;
  std::uint64_t tcp_attempts = 0, tcp_established = 0, tcp_resets = 0, tcp_syn_retransmits = 0;
  std::uint64_t tcp_tracked = 0, tcp_table_full = 0;
  std::uint64_t forced_copies = 0;  // sampler copies taken with p = 1
};

// One packet the kernel dropped (skb:kfree_skb), in detail: the drop
// details are rate-limited in the kernel (per CPU), the counts by reason
// and workload are not (metrics).
struct DropView {
  std::uint64_t time_ns = 0;  // CLOCK_REALTIME
  std::string reason;         // the kernel's name without SKB_DROP_REASON_ ("NETFILTER_DROP")
  bool has_flow = false;      // false: no IP header to read (ARP, netlink, ...)
  IpAddress src, dst;
  std::uint16_t src_port = 0, dst_port = 0;
  std::uint8_t protocol = 0;
  std::uint8_t icmp_type = 0, icmp_code = 0;
  IdentityRef src_id, dst_id;
  std::uint32_t ifindex = 0;  // the skb's device when it was freed (0: none), in whatever namespace it lives
  std::string interface;      // its name when it is an interface the agent hooked; empty otherwise
  std::uint32_t bytes = 0;    // L3 bytes
};

// Samples lost at one stage of the path, for one reason. The sampler stamps
// a sequence number before it clones, so every sample lost after that point
// (clone, mirror, redirect, socket) is also a sequence gap: those per-stage
// counters say where a gap came from and are not added to the total again
// (in_total = false). The total is gaps + samples never stamped (stale
// heartbeat) + samples received but unusable.
struct LossCounter {
  std::string stage;   // "sampler", "mirror", "xdp", "socket", "worker", "capture_port"
  std::string reason;  // "sequence_gap", "clone_failed", "xsk_ring_full", "fill_ring_empty", "table_full", ...
  std::uint64_t count = 0;
  bool in_total = true;  // counted in samples.lost (false: already inside sequence_gap, or not a sample)
};

// A capture port's own state (role "capture-port"): how its frames are
// taken, how many went on to the flow tables and how many were lost where.
struct CapturePortState {
  std::string xdp_mode;  // "native", "generic"; "" on TPACKET_V3
  std::string reason;    // why this mode/backend rather than native XDP ("" when native)
  std::uint32_t queues = 0;
  std::uint32_t sample_rate = 1;
  bool zero_copy = false;
  std::uint64_t sampled = 0;      // frames handed to the flow workers
  std::uint64_t sampled_out = 0;  // frames left out by 1-in-N sampling (XDP)
  std::vector<LossCounter> losses;
};

// Exact per-interface counts from the sampler (every packet, not samples);
// on a capture port from its XDP program (or the device, on TPACKET_V3).
struct InterfaceCounters {
  std::uint32_t ifindex = 0;
  std::string name;
  std::string role;     // "pod", "physical", "capture-port", "extra"
  std::string backend;  // capture backend serving its samples ("afxdp", "afpacket", ...)
  std::string hook;     // "tcx", "clsact", "socket-filter"; capture ports: "xdp", "tpacket"
  std::uint64_t rx_packets = 0, rx_bytes = 0;
  std::uint64_t tx_packets = 0, tx_bytes = 0;
  // bytes count one L2-L4 header per skb (skb->len, what a veth counts);
  // wire bytes every segment's (what a NIC or switch counts). A capture
  // port's frames are wire frames: its bytes are wire bytes.
  std::uint64_t rx_wire_bytes = 0, tx_wire_bytes = 0;
  std::optional<CapturePortState> capture = std::nullopt;  // capture ports only (initialized: aggregates may omit it)
};

struct FallbackTaken {
  std::string what;    // "backend", "hook", ...
  std::string chosen;  // "afpacket", "clsact"
  std::string reason;  // why the preferred one could not serve
};

// One Kubernetes watch (per resource kind).
struct WatchHealth {
  std::string resource;  // "pods", "services", "nodes"
  bool connected = false;
  bool synced = false;              // initial list done
  std::uint64_t last_event_ns = 0;  // CLOCK_REALTIME, 0 = none yet
  std::uint64_t restarts = 0;       // reconnects
  std::uint64_t relists = 0;        // 410 Gone and the like
  std::uint64_t errors = 0;
};

// What the identity index holds (pods by name from the API or --pods-from).
struct KubeIndexCounts {
  std::uint64_t pods = 0;           // live
  std::uint64_t pods_in_grace = 0;  // deleted, still resolvable until --pod-grace-period ends
  std::uint64_t services = 0;
  std::uint64_t nodes = 0;
  std::uint64_t endpoint_slices = 0;
  std::uint64_t remote_pods = 0;  // answered by a point lookup (--kube-pods=node), held for their TTL
  std::uint64_t ips = 0;          // addresses resolvable
  std::uint64_t refused = 0;      // objects not stored: a cap was reached
  std::uint64_t evicted = 0;      // deleted pods dropped before their grace ended, to make room
};

// Exact per-flow counting in the kernel (--exact-flows).
struct ExactFlowStatus {
  std::string mode;                // "off", "bulk", "all"
  std::uint64_t counted_skbs = 0;  // skbs counted in the kernel's flow map
  // skbs left to the estimator, by reason (map_full, declined, malformed, no_map)
  std::map<std::string, std::uint64_t> uncounted;
  std::uint64_t drains = 0;
  std::uint64_t flows_last_drain = 0;
  std::uint64_t last_drain_ns = 0;
  std::uint64_t drain_errors = 0;
  std::uint64_t map_capacity = 0;  // flows a period the kernel map now counting holds
  std::uint64_t map_resizes = 0;   // maps replaced by one of another capacity
};

// The sampler's copy budget (--copy-budget): how far it scaled 1:N.
struct CopyBudgetStatus {
  std::uint32_t budget = 0;         // copies a second per CPU; 0 = a fixed 1:N
  std::uint32_t max_scale = 1;      // the largest scale in force on a CPU now
  std::uint32_t cpus_scaled = 0;    // CPUs drawing at a scaled rate now
  std::uint64_t raises = 0;         // windows that ended with a CPU's scale raised
  std::uint64_t scaled_copies = 0;  // copies drawn at a scaled rate
  std::uint32_t unseen_rate = 1;    // the rate flows' intervals allow for unseen packets
};

// Kernel events (pkg/kevents): drops and TCP retransmissions.
struct KernelEventStatus {
  bool drops = false;         // the drop program is attached
  std::string drops_reason;   // why not (off by configuration, or the kernel's error)
  std::string drops_program;  // tp_btf, or raw_tp where tp_btf did not load
  bool tcp_retransmits = false;
  std::string tcp_retransmits_reason;
  std::string tcp_retransmits_program;                   // raw_tp (sk, skb) up to 6.12, raw_tp (sk, skb, err) from 6.13
  std::map<std::string, std::uint64_t> drops_by_reason;  // since start, exact
  std::uint64_t drops_unattributed = 0;                  // without an IP header (counted by reason only)
  std::uint64_t drops_map_full = 0;                      // counted by reason only: the (flow, reason) map was full
  std::uint64_t drops_storm_sampled = 0;       // counted by reason only: a storm's drops the sampled ones stand for
  std::uint64_t drop_details = 0;              // details sent to user space
  std::uint64_t drop_details_suppressed = 0;   // over the rate limit
  std::uint64_t drop_details_lost = 0;         // ring buffer full
  std::uint64_t tcp_retransmit_segments = 0;   // over all sockets of the node
  std::uint64_t tcp_retransmits_map_full = 0;  // hits not attributed to a flow: the map was full
  std::uint64_t tcp_retransmits_map_busy = 0;  // ... its bucket's lock gave up (6.15+)
  std::uint64_t tcp_retransmits_missed = 0;    // hits the kernel skipped (the program already ran on that CPU)
  std::uint64_t tcp_retransmits_not_sent = 0;  // 6.13+: attempts given up before TcpRetransSegs (not counts)
  std::uint64_t drain_errors = 0;
};

// The IPFIX exporter (agent/export): what it sent and what it lost.
struct FlowExportStatus {
  bool enabled = false;
  std::string collector;   // host:port
  std::string transport;   // "udp", "tcp"
  bool connected = false;  // TCP: a connection is up; UDP: the socket is open
  std::uint64_t messages_sent = 0;
  std::uint64_t records_sent = 0;  // flow (data) records in messages handed to the kernel
  std::uint64_t bytes_sent = 0;
  std::uint64_t template_messages = 0;    // messages that carried the templates
  std::uint64_t send_errors = 0;          // messages the kernel refused (not sent)
  std::uint64_t records_send_failed = 0;  // flow records in those messages
  // UDP: flow records in messages that went out but that nobody read: the
  // collector's host answered them with port unreachable (reported by the
  // kernel on the next send, as ECONNREFUSED).
  std::uint64_t records_unreachable = 0;
  std::uint64_t records_queue_full = 0;  // ended flows dropped before export: the queue was full
  std::uint64_t records_too_large = 0;   // records larger than a whole message (very long names)
  std::uint64_t connects = 0;            // TCP connections established
  std::uint64_t reconnects = 0;          // of which after a broken or refused connection
  std::uint64_t unacked_bytes_lost = 0;  // TCP: bytes the collector had not acknowledged when the connection broke
  std::string last_error;
  std::uint64_t last_error_ns = 0;  // CLOCK_REALTIME, 0 = none
};

struct AgentStatus {
  std::string version;
  std::string node;
  std::uint64_t started_ns = 0;
  bool ready = false;                           // the data path is hooked and delivering
  std::string backend;                          // capture backend in use
  std::string backend_reason;                   // why (empty: the preferred one)
  std::map<std::string, bool> kernel_features;  // "tcx", "afxdp", "xdp_frags", "bpf", ...
  std::vector<FallbackTaken> fallbacks;
  std::uint64_t samples_received = 0;
  std::vector<LossCounter> losses;
  std::map<std::string, std::uint64_t> parse_errors;  // by reason
  std::uint64_t active_flows = 0;
  std::uint64_t flow_evictions = 0;
  ExactFlowStatus exact_flows;
  CopyBudgetStatus copy_budget;
  // Memory the agent holds outside its heap, fixed at start: each worker's
  // flow table and AF_XDP UMEM share (the UMEM is 0 on AF_PACKET).
  std::vector<std::uint64_t> flow_table_bytes;  // per worker
  std::vector<std::uint64_t> umem_bytes;        // per worker
  std::vector<WatchHealth> watches;
  KubeIndexCounts kube_index;
  FlowExportStatus flow_export;
  ControlStatus control;
  KernelEventStatus kernel_events;
};

struct AgentSnapshot {
  std::uint64_t generation = 0;  // increases with every publication
  std::uint64_t taken_ns = 0;    // CLOCK_REALTIME
  std::vector<FlowView> flows;
  std::vector<InterfaceCounters> interfaces;
  // The latest drop details, oldest first (bounded); shared between
  // snapshots while no new one arrives.
  std::shared_ptr<const std::vector<DropView>> drops;
  AgentStatus status;
  // The latest DNS records, oldest first (at most the publisher's
  // recent_dns); shared between snapshots while nothing new came.
  std::shared_ptr<const std::vector<DnsRecord>> dns;
};

// Where readers get the current merged view.
class SnapshotProvider {
 public:
  virtual ~SnapshotProvider() = default;
  // Never null.
  virtual std::shared_ptr<const AgentSnapshot> snapshot() const = 0;
  // Blocks until a snapshot newer than `generation` is published or the
  // timeout passes; returns the current one either way.
  virtual std::shared_ptr<const AgentSnapshot> wait_newer(std::uint64_t generation,
                                                          std::chrono::milliseconds timeout) const = 0;
};

// The provider the integration publishes into (and tests fill by hand).
class SnapshotStore final : public SnapshotProvider {
 public:
  SnapshotStore();
  // Stamps the snapshot's generation and publishes it.
  void publish(AgentSnapshot snap);
  std::shared_ptr<const AgentSnapshot> snapshot() const override;
  std::shared_ptr<const AgentSnapshot> wait_newer(std::uint64_t generation,
                                                  std::chrono::milliseconds timeout) const override;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::shared_ptr<const AgentSnapshot> current_;
  std::uint64_t generation_ = 0;
};

std::uint64_t realtime_ns();

}  // namespace netring::agent
