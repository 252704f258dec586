#include "agent/publisher.hpp"

#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <utility>

#include "agent/heap.hpp"
#include "agent/log.hpp"
#include "bpf/sample_meta.h"
#include "pkg/flow/estimator.hpp"
#include "pkg/kflow/flow_hash.hpp"

namespace netring::agent {

namespace {

constexpr std::chrono::milliseconds kCollectTimeout{500};

std::int64_t clock_ns(clockid_t c) {
  timespec ts{};
  clock_gettime(c, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

flow::Direction to_flow_direction(std::uint32_t d) {
  return d == NETRING_DIR_EGRESS ? flow::Direction::kEgress : flow::Direction::kIngress;
}

IpAddress to_ip(const flow::Address& a, std::uint8_t family) {
  if (family == 4) {
    std::uint32_t be;
    std::memcpy(&be, &a[12], 4);
    return IpAddress::v4(be);
  }
  return IpAddress::v6(a.data());
}

Identity to_identity(const k8s::Identity& k) {
  Identity id;
  switch (k.kind) {
    case k8s::ResourceKind::kPod:
      id.ns = k.namespace_;
      id.pod = k.name;
      id.workload = k.workload;
      id.kind = k.workload_kind;
      id.node = k.node;
      break;
    case k8s::ResourceKind::kService:
    case k8s::ResourceKind::kEndpointSlice:
      id.ns = k.namespace_;
      id.service = k.name;
      break;
    case k8s::ResourceKind::kNode: id.node = k.name; break;
  }
  return id;
}

std::string ifname(std::uint32_t ifindex, const std::map<std::uint32_t, HookedLink>& links) {
  if (auto it = links.find(ifindex); it != links.end()) return it->second.name;
  char buf[IF_NAMESIZE] = {};
  if (if_indextoname(ifindex, buf)) return buf;
  return "if" + std::to_string(ifindex);
}

const char* role_name(discovery::LinkRole r) {
  switch (r) {
    case discovery::LinkRole::kPodVeth: return "pod";
    case discovery::LinkRole::kPhysical: return "physical";
    case discovery::LinkRole::kExtra: return "extra";
    case discovery::LinkRole::kCapturePort: return "capture-port";
  }
  return "extra";
}

FlowEndReason end_reason_of(flow::EndReason r) {
  switch (r) {
    case flow::EndReason::kIdle: return FlowEndReason::kIdleTimeout;
    case flow::EndReason::kActive: return FlowEndReason::kActiveTimeout;
    case flow::EndReason::kEvicted: return FlowEndReason::kEvicted;
  }
  return FlowEndReason::kNone;
}

// Bit of worker i in a flow's worker mask (workers past 15 share bit 15:
// a miss of one of them then carries a few flows too many, never too few).
std::uint16_t worker_bit(std::size_t i) {
  return static_cast<std::uint16_t>(1u << std::min<std::size_t>(i, 15));
}

// Calls f(key, record, workers) once per flow over all workers' reports,
// `workers` being the mask of the workers that held it. A flow that two
// workers saw (RSS spread its packets, or a rehash moved it) is merged into
// one record. The reports are flat arrays; instead of copying them into a
// hash map, duplicates are found by sorting pointers (16 bytes a flow, for
// the length of the call), and with one worker there is nothing to merge.
template <class F>
void for_each_merged(const std::vector<WorkerReport>& reports, F&& f) {
  std::size_t total = 0, sources = 0;
  for (const auto& rep : reports) {
    total += rep.live.size();
    sources += rep.live.empty() ? 0 : 1;
  }
  if (sources <= 1) {
    for (std::size_t i = 0; i < reports.size(); ++i)
      for (const auto& e : reports[i].live) f(e.key, e.record, worker_bit(i));
    return;
  }
  std::vector<std::pair<const flow::FlowEntry*, std::uint16_t>> all;
  all.reserve(total);
  for (std::size_t i = 0; i < reports.size(); ++i)
    for (const auto& e : reports[i].live) all.emplace_back(&e, worker_bit(i));
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return std::memcmp(&a.first->key, &b.first->key, sizeof(flow::FlowKey)) < 0;  // padding is zeroed (key.hpp)
  });
  for (std::size_t i = 0; i < all.size();) {
    const flow::FlowKey& key = all[i].first->key;
    flow::FlowRecord r = all[i].first->record;
    std::uint16_t mask = all[i].second;
    std::size_t j = i + 1;
    for (; j < all.size() && all[j].first->key == key; ++j) {
      r.merge(all[j].first->record);
      mask |= all[j].second;
    }
    f(key, r, mask);
    i = j;
  }
}

}  // namespace

Publisher::Publisher(PublisherOptions opts, std::span<const std::unique_ptr<Worker>> workers, Hooks& hooks,
                     const k8s::Metadata& metadata, ConntrackResolver* conntrack, SnapshotStore& store,
                     metrics::AgentMetrics& metrics, kflow::FlowCountReader* flow_counts, CapturePorts* capture)
    : opts_(std::move(opts)),
      workers_(workers),
      hooks_(hooks),
      metadata_(metadata),
      conntrack_(conntrack),
      store_(store),
      metrics_(metrics),
      flow_counts_(flow_counts),
      capture_(capture),
      last_(workers.size()),
      seed_(std::random_device{}()),
      control_(opts_.control) {}

Publisher::~Publisher() {
  stop();
}

void Publisher::start() {
  thread_ = std::thread([this] { run(); });
}

void Publisher::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Publisher::set_ready(bool ready) {
  ready_.store(ready);
}

void Publisher::run() {
  auto next = std::chrono::steady_clock::now();
  for (;;) {
    // The sampler stops cloning when the heartbeat goes stale: refresh it
    // first, whatever the rest of the round costs.
    auto hb = hooks_.with_datapath([](datapath::Datapath& dp) { return dp.heartbeat(); });
    if (!hb) log::warn("heartbeat", {{"error", hb.error().message()}});
    publish_once();
    next += opts_.period;
    std::unique_lock lk(mu_);
    if (cv_.wait_until(lk, next, [this] { return stopping_; })) return;
    if (next < std::chrono::steady_clock::now()) next = std::chrono::steady_clock::now();
  }
}

Identity Publisher::identity_of(const IpAddress& ip) const {
  if (auto ref = metadata_.index().lookup(ip)) return to_identity(*ref);
  return {};
}

IdentityRef Publisher::shared_identity_of(const IpAddress& ip) {
  auto [it, inserted] = identities_.try_emplace(ip);
  if (inserted) it->second = identity_of(ip);
  return it->second;
}

std::shared_ptr<const std::vector<std::string>> Publisher::interfaces_of(
    const flow::FlowRecord& r, const std::map<std::uint32_t, HookedLink>& links) {
  std::array<std::uint32_t, flow::FlowRecord::kMaxInterfaces> set{};
  for (int i = 0; i < flow::FlowRecord::kMaxInterfaces; ++i)
    if (r.directions(i) != 0) set[i] = r.ifindex[i];
  auto [it, inserted] = interface_lists_.try_emplace(set);
  if (inserted) {
    std::vector<std::string> names;
    for (std::uint32_t ifx : set)
      if (ifx != 0) names.push_back(ifname(ifx, links));
    it->second = std::make_shared<const std::vector<std::string>>(std::move(names));
  }
  return it->second;
}

void Publisher::resolve_backend(const flow::FlowKey& key, FlowView& v) {
  if (!conntrack_ || v.dst_id->service.empty()) return;
  auto [it, inserted] = backends_.try_emplace(v.id);
  if (inserted) {
    FlowKey ct{v.src, v.dst, key.src_port, key.dst_port, key.protocol};
    auto r = conntrack_->backend(ct);
    if (r && r->has_value()) {
      Identity backend = identity_of((*r)->addr);
      if (backend.is_pod()) {
        // The service stays named; the pod behind it is the destination identity.
        backend.service = v.dst_id->service;
        it->second = IdentityRef(std::move(backend));
      }
    } else if (r) {
      // No entry yet (the first packet may precede conntrack's): ask again next round.
      backends_.erase(it);
      return;
    }
  }
  if (it->second) v.dst_id = *it->second;
}

FlowView Publisher::endpoints_of(const flow::FlowKey& key, bool capture) {
  FlowView v;
  // A capture port may see the flow this node samples on its own
  // interfaces: another seed keeps the two apart (ids, metric deltas).
  v.id = flow::hash_key(key, capture ? ~seed_ : seed_);
  v.src = to_ip(key.src, key.family);
  v.dst = to_ip(key.dst, key.family);
  v.protocol = key.protocol;
  if (key.protocol == IPPROTO_ICMP || key.protocol == IPPROTO_ICMPV6) {
    v.icmp_type = key.icmp_type();
    v.icmp_code = key.icmp_code();
  } else {
    v.src_port = key.src_port;
    v.dst_port = key.dst_port;
  }
  v.src_id = shared_identity_of(v.src);
  v.dst_id = shared_identity_of(v.dst);
  return v;
}

FlowView Publisher::view_of(const flow::FlowKey& key, const flow::FlowRecord& r,
                            const std::map<std::uint32_t, HookedLink>& links, bool capture) {
  FlowView v = endpoints_of(key, capture);
  resolve_backend(key, v);
  FlowExtras extras;
  if (key.protocol == IPPROTO_TCP && opts_.control.tcp_handshake) {
    if (const handshake::Connection* c = control_.handshakes().find(key)) {
      TcpHandshakeView h;
      h.client_is_src = c->key.src == key.src && c->key.src_port == key.src_port;
      h.established = c->established;
      h.syn_to_synack_ns = c->syn_to_synack_ns();
      h.synack_to_ack_ns = c->synack_to_ack_ns();
      h.syns = c->syns;
      h.reset_by = handshake::to_string(c->reset_by);
      h.fin_by = handshake::to_string(c->fin_by);
      extras.handshake = std::move(h);
    }
  }
  // The source reports when it is a pod of this node; otherwise this node
  // sees the flow arrive at its destination (a local pod, or the node).
  const bool local_source =
      v.src_id->is_pod() && (v.src_id->node.empty() || opts_.node_name.empty() || v.src_id->node == opts_.node_name);
  v.reporter = capture ? Reporter::kCapture : local_source ? Reporter::kSource : Reporter::kDestination;
  v.direction = local_source ? FlowDirection::kEgress : FlowDirection::kIngress;
  v.packets = r.packets;
  v.bytes = r.bytes_l3;
  v.wire_bytes = r.bytes_wire;
  // A capture port's frames are never in the kernel's exact counts (the TC
  // sampler does not hook a capture port): its flows stand on their samples.
  v.bytes_stderr = flow::estimate_bytes_l3(r, capture ? opts_.capture_sample_rate : unseen_rate_).std_error();
  v.samples = r.samples;
  v.tcp_flags = r.tcp_flags;
  if (key.protocol == IPPROTO_TCP && !retransmits_.empty()) {
    if (auto it = retransmits_.find(v.id); it != retransmits_.end()) {
      v.tcp_retransmits = it->second.segments;
      v.tcp_srtt_us = it->second.srtt_us;
      it->second.round = round_;
    }
  }
  if (!dns_by_flow_.empty() && (key.protocol == IPPROTO_UDP || key.protocol == IPPROTO_TCP)) {
    if (auto it = dns_by_flow_.find(v.id); it != dns_by_flow_.end()) {
      extras.dns = it->second.view;
      it->second.round = round_;
    }
  }
  if (extras.handshake || extras.dns) v.extras = std::make_shared<const FlowExtras>(std::move(extras));
  v.start_mono_ns = r.first_ns;
  v.first_seen_ns = static_cast<std::uint64_t>(static_cast<std::int64_t>(r.first_ns) + realtime_offset_ns_);
  v.last_seen_ns = static_cast<std::uint64_t>(static_cast<std::int64_t>(r.last_ns) + realtime_offset_ns_);
  v.interfaces = interfaces_of(r, links);
  for (int i = flow::FlowRecord::kMaxInterfaces - 1; i >= 0; --i) {  // the first slot wins
    const std::uint8_t d = r.directions(i);
    if (d & flow::FlowRecord::direction_bit(flow::Direction::kIngress)) v.ingress_ifindex = r.ifindex[i];
    if (d & flow::FlowRecord::direction_bit(flow::Direction::kEgress)) v.egress_ifindex = r.ifindex[i];
  }
  return v;
}

DnsRecord Publisher::dns_record(const dns::Exchange& x) {
  DnsRecord d;
  d.seq = ++dns_seq_;
  d.flow = endpoints_of(x.key);
  d.flow.reporter = d.flow.src_id->is_pod() ? Reporter::kSource : Reporter::kDestination;
  d.flow.direction = d.flow.src_id->is_pod() ? FlowDirection::kEgress : FlowDirection::kIngress;
  if (x.responder != flow::Address{}) {
    d.responder = to_ip(x.responder, x.key.family);
    // A query to a Service address answered by a pod: the pod is the
    // destination, the Service stays named (as resolve_backend does for flows).
    if (d.responder != d.flow.dst && !d.flow.dst_id->is_pod()) {
      Identity backend = identity_of(d.responder);
      if (backend.is_pod()) {
        backend.service = d.flow.dst_id->service;
        d.flow.dst_id = IdentityRef(std::move(backend));
      }
    }
  }
  d.qname.assign(x.qname());
  d.qtype = x.qtype;
  d.queries = x.queries;
  switch (x.outcome) {
    case dns::Exchange::Outcome::kAnswered: d.outcome = "answered"; break;
    case dns::Exchange::Outcome::kTimeout: d.outcome = "timeout"; break;
    case dns::Exchange::Outcome::kUnmatchedResponse: d.outcome = "unmatched_response"; break;
  }
  if (x.outcome != dns::Exchange::Outcome::kTimeout) d.rcode = x.rcode;
  auto wall = [this](std::uint64_t mono) {
    return mono == 0 ? 0 : static_cast<std::uint64_t>(static_cast<std::int64_t>(mono) + realtime_offset_ns_);
  };
  d.query_ns = wall(x.query_ns);
  d.response_ns = wall(x.response_ns);
  d.latency_ns = x.latency_ns();
  d.flow.first_seen_ns = d.query_ns != 0 ? d.query_ns : d.response_ns;
  d.flow.last_seen_ns = d.response_ns != 0 ? d.response_ns : d.query_ns;
  return d;
}

void Publisher::track_control(std::uint64_t now_mono_ns) {
  if (!opts_.control.dns && !opts_.control.tcp_handshake) return;
  std::vector<const WorkerReport*> reports;
  for (const auto& r : last_) reports.push_back(&r);
  metrics::ControlMetrics& m = metrics_.control();
  ControlSink sink;
  // Client and server as the client addressed it (a Service's address stays
  // the server): queries, responses and timeouts of one exchange share
  // their labels.
  sink.dns_message = [&](const flow::FlowKey& key, const dns::Message& msg) {
    if (!msg.response)
      m.dns_query(*shared_identity_of(to_ip(key.src, key.family)), *shared_identity_of(to_ip(key.dst, key.family)),
                  msg.qname());
  };
  sink.dns_exchange = [&](const dns::Exchange& x) {
    const Identity& client = *shared_identity_of(to_ip(x.key.src, x.key.family));
    const Identity& server = *shared_identity_of(to_ip(x.key.dst, x.key.family));
    switch (x.outcome) {
      case dns::Exchange::Outcome::kAnswered:
        m.dns_response(client, server, x.qname(), x.rcode);
        m.dns_answered(client, server, x.qname(), static_cast<double>(x.latency_ns()) / 1e9);
        break;
      case dns::Exchange::Outcome::kTimeout: m.dns_timeout(client, server, x.qname()); break;
      case dns::Exchange::Outcome::kUnmatchedResponse: m.dns_response(client, server, x.qname(), x.rcode); break;
    }
    tally_dns(x);
    dns_recent_.push_back(dns_record(x));
    if (dns_recent_.size() > opts_.recent_dns) dns_recent_.pop_front();
    dns_changed_ = true;
  };
  sink.tcp_event = [&](const handshake::Event& e) {
    const Identity& client = *shared_identity_of(to_ip(e.key.src, e.key.family));
    const Identity& server = *shared_identity_of(to_ip(e.key.dst, e.key.family));
    switch (e.kind) {
      case handshake::Event::Kind::kAttempt: m.tcp_attempt(client, server); break;
      case handshake::Event::Kind::kEstablished:
        m.tcp_established(client, server, static_cast<double>(e.syn_to_synack_ns) / 1e9,
                          static_cast<double>(e.synack_to_ack_ns) / 1e9);
        break;
      case handshake::Event::Kind::kReset: m.tcp_reset(client, server, handshake::to_string(e.side)); break;
    }
  };
  control_.feed(reports, now_mono_ns, sink);
  for (auto& r : last_) {
    // Handed over once; the capacity goes too (a burst must not pin memory).
    std::vector<DnsEvent>().swap(r.dns);
    std::vector<TcpControlEvent>().swap(r.tcp);
  }
}

// Both directions: the query's flow, and the response's (from the
// responder, which answered for a Service address when the client asked one).
void Publisher::tally_dns(const dns::Exchange& x) {
  flow::FlowKey response = flow::reversed(x.key);
  if (x.responder != flow::Address{}) {
    response.src = x.responder;
    response.src_port = x.responder_port;
  }
  for (const flow::FlowKey& k : {x.key, response}) {
    const std::uint64_t id = flow::hash_key(k, seed_);
    auto it = dns_by_flow_.find(id);
    if (it == dns_by_flow_.end()) {
      if (dns_by_flow_.size() >= opts_.dns_max_flows) continue;
      it = dns_by_flow_.emplace(id, DnsTally{}).first;
    }
    FlowDnsView& v = it->second.view;
    it->second.round = round_;
    ++v.exchanges;
    v.queries += x.queries;
    switch (x.outcome) {
      case dns::Exchange::Outcome::kAnswered:
        ++v.answered;
        v.last_latency_ns = x.latency_ns();
        v.max_latency_ns = std::max(v.max_latency_ns, v.last_latency_ns);
        ++v.rcodes[dns::rcode_name(x.rcode)];
        break;
      case dns::Exchange::Outcome::kTimeout: ++v.timeouts; break;
      case dns::Exchange::Outcome::kUnmatchedResponse:
        ++v.unmatched;
        ++v.rcodes[dns::rcode_name(x.rcode)];
        break;
    }
    v.last_qname.assign(x.qname());
  }
}

void Publisher::distribute_exact_counts() {
  if (flow_counts_ == nullptr || workers_.empty()) return;
  drained_.clear();
  if (auto n = flow_counts_->drain(drained_); !n) {
    if (exact_drain_errors_++ == 0) log::warn("reading the kernel's flow counts", {{"error", n.error().message()}});
    return;
  }
  const std::size_t n = std::max<std::size_t>(1, std::min(opts_.mirror_workers, workers_.size()));
  std::vector<std::vector<ExactUpdate>> per(n);
  for (auto& v : per) {
    v.reserve(drained_.size() / n + 16);
    prefault_spare(v);
  }
  for (const kflow::KernelFlow& k : drained_) {
    const netring_flow_counts& c = k.counts;
    ExactUpdate u{k.key, flow::ExactCounts{.packets = c.skbs,
                                           .bytes_l3 = c.bytes,
                                           .wire_bytes = c.wire_bytes,
                                           .first_ns = c.first_ns,
                                           .last_ns = c.last_ns,
                                           .max_seg_len = c.max_seg,
                                           .ifindex = c.ifindex,
                                           .direction = to_flow_direction(c.direction),
                                           .tcp_flags = k.tcp_flags()}};
    per[n == 1 ? 0 : kflow::flow_key_hash(k.key) % n].push_back(u);
  }
  for (std::size_t i = 0; i < n; ++i)
    if (!per[i].empty()) workers_[i]->add_exact(std::move(per[i]));
}

void Publisher::collect_kernel_events(const std::map<std::uint32_t, HookedLink>& links, KernelEventStatus& st) {
  if (opts_.drops != nullptr) {
    kevents::DropMonitor& dm = *opts_.drops;
    drop_counts_.clear();
    if (auto n = dm.drain(drop_counts_); !n) {
      if (kevent_errors_++ == 0) log::warn("reading the kernel's drop counts", {{"error", n.error().message()}});
    }
    auto& km = metrics_.kernel_events();
    for (const kevents::DropCount& d : drop_counts_) {
      const bool has_flow = d.key.family != 0;
      if (!has_flow) {
        km.add_drops(dm.reasons().name(d.reason), false, Identity{}, Identity{}, 0, d.counts.packets);
        continue;
      }
      km.add_drops(dm.reasons().name(d.reason), true, shared_identity_of(to_ip(d.key.src, d.key.family)),
                   shared_identity_of(to_ip(d.key.dst, d.key.family)), d.key.protocol, d.counts.packets);
    }
    drop_events_.clear();
    if (auto n = dm.poll_events(drop_events_); !n) {
      if (kevent_errors_++ == 0) log::warn("reading the kernel's drop details", {{"error", n.error().message()}});
    }
    for (const kevents::DropEvent& e : drop_events_) {
      DropView v;
      v.time_ns = static_cast<std::uint64_t>(static_cast<std::int64_t>(e.ts_ns) + realtime_offset_ns_);
      v.reason = dm.reasons().name(e.reason);
      v.has_flow = e.key.family != 0;
      if (v.has_flow) {
        v.src = to_ip(e.key.src, e.key.family);
        v.dst = to_ip(e.key.dst, e.key.family);
        v.protocol = e.key.protocol;
        if (e.key.protocol == IPPROTO_ICMP || e.key.protocol == IPPROTO_ICMPV6) {
          v.icmp_type = e.key.icmp_type();
          v.icmp_code = e.key.icmp_code();
        } else {
          v.src_port = e.key.src_port;
          v.dst_port = e.key.dst_port;
        }
        v.src_id = shared_identity_of(v.src);
        v.dst_id = shared_identity_of(v.dst);
      }
      v.ifindex = e.ifindex;
      if (auto l = links.find(e.ifindex); l != links.end()) v.interface = l->second.name;
      v.bytes = e.bytes;
      recent_drops_.push_back(std::move(v));
      if (recent_drops_.size() > opts_.recent_drops) recent_drops_.pop_front();
    }
    if (!drop_events_.empty() || !drops_published_)
      drops_published_ = std::make_shared<const std::vector<DropView>>(recent_drops_.begin(), recent_drops_.end());
    if (auto s = dm.stats()) {
      st.drops_unattributed = s->unparsed;
      st.drops_map_full = s->map_full;
      st.drops_storm_sampled = s->storm_skipped;
      st.drop_details = s->events;
      st.drop_details_suppressed = s->suppressed;
      st.drop_details_lost = s->event_lost;
    }
    if (auto t = dm.reason_totals())
      for (const auto& [reason, n] : *t) st.drops_by_reason[dm.reasons().name(reason)] += n;
  }
  if (opts_.retransmits != nullptr) {
    retransmit_counts_.clear();
    if (auto n = opts_.retransmits->drain(retransmit_counts_); !n) {
      if (kevent_errors_++ == 0) log::warn("reading the kernel's retransmits", {{"error", n.error().message()}});
    }
    for (const kevents::RetransmitCount& r : retransmit_counts_) {
      const std::uint64_t id = flow::hash_key(r.key, seed_);
      auto it = retransmits_.find(id);
      if (it == retransmits_.end() && retransmits_.size() < opts_.retransmit_max_keys)
        it = retransmits_.emplace(id, RetransmitTotal{}).first;
      if (it != retransmits_.end()) {
        it->second.segments += r.counts.segments;
        it->second.srtt_us = r.counts.srtt_us;
        it->second.round = round_;
      }
      metrics_.kernel_events().add_retransmits(shared_identity_of(to_ip(r.key.src, r.key.family)),
                                               shared_identity_of(to_ip(r.key.dst, r.key.family)), r.counts.segments);
    }
    if (auto s = opts_.retransmits->stats()) {
      st.tcp_retransmit_segments = s->segments;
      st.tcp_retransmits_map_full = s->map_full;
      st.tcp_retransmits_map_busy = s->map_busy;
      st.tcp_retransmits_missed = s->missed;
      st.tcp_retransmits_not_sent = s->not_sent;
    }
  }
  st.drain_errors = kevent_errors_;
}

void Publisher::publish_once() {
  // Taken before any address is resolved: a pod the index dropped by now
  // resolves to nobody below, so removing its series after this round's
  // increments cannot be undone by one of its still-live flows.
  const std::vector<std::string> pods_gone = metadata_.index().pods_gone_since(gone_cursor_);
  realtime_offset_ns_ = wall_clock_.update(WallClockOffset::read());
  // The period's exact counts go to the workers before they report.
  distribute_exact_counts();
  auto counters = hooks_.with_datapath([](datapath::Datapath& dp) { return dp.counters(); });
  // At 1:N with N > 1 a flow may have packets no sample showed, unless the
  // kernel counted every packet (all, and none left uncounted so far); N as
  // the copy budget scaled it, the largest the samples of a record's span
  // carried (flow::UnseenRate).
  std::uint16_t missed = 0;
  std::uint32_t drawn_rate = 0;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    if (auto rep = workers_[i]->collect(kCollectTimeout)) {
      last_[i] = std::move(*rep);
      drawn_rate = std::max(drawn_rate, last_[i].max_drawn_rate);
    } else {
      missed |= worker_bit(i);
    }
  }
  unseen_rate_ =
      std::max(opts_.sample_rate, drawn_rates_.note(static_cast<std::uint64_t>(clock_ns(CLOCK_MONOTONIC)), drawn_rate));
  if (opts_.exact_flows == datapath::ExactFlows::kAll && counters && counters->stages.flow_uncounted() == 0)
    unseen_rate_ = 1;

  // Capture ports keep their own late workers' flows (CapturePorts::collect).
  std::optional<CaptureRound> cap;
  if (capture_) cap = capture_->collect(kCollectTimeout);

  const auto links = hooks_.hooked();
  identities_.clear();
  interface_lists_.clear();
  ++round_;
  KernelEventStatus kernel_events = opts_.base_status.kernel_events;
  collect_kernel_events(links, kernel_events);
  // Before the flows: their views carry the handshakes this round completed.
  track_control(static_cast<std::uint64_t>(clock_ns(CLOCK_MONOTONIC)));
  std::vector<FlowView> ended;
  for (auto& rep : last_) {
    for (std::size_t i = 0; i < rep.ended.size(); ++i) {
      ended.push_back(view_of(rep.ended[i].key, rep.ended[i].record, links));
      if (i < rep.ended_reasons.size()) ended.back().end_reason = end_reason_of(rep.ended_reasons[i]);
    }
    rep.ended.clear();  // reported once
    rep.ended.shrink_to_fit();
    std::vector<flow::EndReason>().swap(rep.ended_reasons);
  }
  if (cap)
    for (const auto& rep : cap->reports)
      for (std::size_t i = 0; i < rep.ended.size(); ++i) {
        ended.push_back(view_of(rep.ended[i].key, rep.ended[i].record, links, true));
        if (i < rep.ended_reasons.size()) ended.back().end_reason = end_reason_of(rep.ended_reasons[i]);
      }
  // What the tables could not take while full (per worker: each worker's
  // record only grows, so its totals are reported like a live flow's).
  flow::FlowRecord overflow;
  for (const auto& rep : last_) overflow.merge(rep.overflow);
  flow::FlowRecord capture_overflow;
  if (cap)
    for (const auto& rep : cap->reports) capture_overflow.merge(rep.overflow);

  AgentSnapshot snap;
  snap.taken_ns = realtime_ns();
  // The flows of a worker that did not answer in time are the ones it held
  // at the previous round, unchanged: dropping them would make the metrics
  // forget their totals and count them again when they come back.
  std::vector<std::uint16_t> masks;
  std::vector<std::uint64_t> carried;  // ids of those flows
  if (missed != 0 && published_) {
    for (std::size_t k = 0; k < published_->flows.size(); ++k) {
      if ((published_workers_[k] & missed) == 0) continue;
      snap.flows.push_back(published_->flows[k]);
      if (auto it = retransmits_.find(snap.flows.back().id); it != retransmits_.end()) {
        snap.flows.back().tcp_retransmits = it->second.segments;  // drained this round, whoever is late
        snap.flows.back().tcp_srtt_us = it->second.srtt_us;
        it->second.round = round_;
      }
      masks.push_back(published_workers_[k]);
      carried.push_back(published_->flows[k].id);
    }
    std::sort(carried.begin(), carried.end());
  }
  std::size_t upper = snap.flows.size();
  for (const auto& rep : last_) upper += rep.live.size();
  if (cap)
    for (const auto& rep : cap->reports) upper += rep.live.size();
  snap.flows.reserve(upper);
  prefault_spare(snap.flows);
  masks.reserve(upper);
  for_each_merged(last_, [&](const flow::FlowKey& k, const flow::FlowRecord& r, std::uint16_t workers) {
    if (!carried.empty() && std::binary_search(carried.begin(), carried.end(), flow::hash_key(k, seed_))) return;
    snap.flows.push_back(view_of(k, r, links));
    masks.push_back(workers);
  });
  // The capture ports' flows, merged over their queues (and ports) apart
  // from the node's own: never carried from the previous round (mask 0).
  if (cap)
    for_each_merged(cap->reports, [&](const flow::FlowKey& k, const flow::FlowRecord& r, std::uint16_t) {
      snap.flows.push_back(view_of(k, r, links, true));
      masks.push_back(0);
    });
  if (!overflow.empty()) {
    // The all-zero key (family 0) is no real flow: it names the overflow.
    snap.flows.push_back(view_of(flow::FlowKey{}, overflow, links));
    snap.flows.back().overflow = true;
    masks.push_back(0);  // rebuilt every round from each worker's latest record, never carried
  }
  if (!capture_overflow.empty()) {
    snap.flows.push_back(view_of(flow::FlowKey{}, capture_overflow, links, true));
    snap.flows.back().overflow = true;
    masks.push_back(0);
  }
  // The tables' copies are in the snapshot now (the snapshot, not a second
  // copy, is what a late worker's flows are carried from).
  for (std::size_t i = 0; i < last_.size(); ++i) workers_[i]->recycle(std::exchange(last_[i].live, {}));
  if (snap.flows.capacity() - snap.flows.size() > snap.flows.size() / 8) snap.flows.shrink_to_fit();
  if (!backends_.empty()) {
    std::vector<std::uint64_t> live_ids;
    live_ids.reserve(snap.flows.size());
    for (const auto& f : snap.flows) live_ids.push_back(f.id);
    std::sort(live_ids.begin(), live_ids.end());
    std::erase_if(backends_,
                  [&](const auto& kv) { return !std::binary_search(live_ids.begin(), live_ids.end(), kv.first); });
  }

  // Totals of keys neither retransmitting nor shown in a flow for a while
  // go (their flows ended); the rest stay, so a flow's total only grows.
  if (!retransmits_.empty())
    std::erase_if(retransmits_,
                  [&](const auto& kv) { return round_ - kv.second.round > opts_.retransmit_keep_rounds; });
  if (!dns_by_flow_.empty())
    std::erase_if(dns_by_flow_,
                  [&](const auto& kv) { return round_ - kv.second.round > opts_.retransmit_keep_rounds; });
  snap.drops = drops_published_;

  AgentStatus& st = snap.status;
  st = opts_.base_status;
  st.kernel_events = std::move(kernel_events);
  st.ready = ready_.load();
  std::uint64_t gaps = 0, invalid = 0, kernel_drops = 0, ring_full = 0, fill_empty = 0, evictions = 0,
                overflow_updates = 0;
  for (const auto& rep : last_) {
    st.samples_received += rep.stream.samples;
    gaps += rep.stream.gaps;
    invalid += rep.stream.invalid;
    kernel_drops += rep.stream.capture.kernel_drops;
    ring_full += rep.stream.capture.ring_full;
    fill_empty += rep.stream.capture.fill_empty;
    evictions += rep.table.evictions;
    overflow_updates += rep.table.overflow_updates;
    // Every reason, zeros included: a counter that exists from the start
    // lets rate() and alerts see its first increment (and the dashboard's
    // panel has series on a node where nothing failed to parse yet).
    for (std::size_t s = 1; s < rep.parser.by_status.size(); ++s)
      st.parse_errors[flow::to_string(static_cast<flow::ParseStatus>(s))] += rep.parser.by_status[s];
  }
  if (cap) {
    st.samples_received += cap->samples;
    for (const auto& rep : cap->reports) {
      evictions += rep.table.evictions;
      overflow_updates += rep.table.overflow_updates;
      for (std::size_t s = 1; s < rep.parser.by_status.size(); ++s)
        if (rep.parser.by_status[s])
          st.parse_errors[flow::to_string(static_cast<flow::ParseStatus>(s))] += rep.parser.by_status[s];
    }
  }
  st.active_flows = snap.flows.size();
  for (const auto& w : workers_) {
    st.flow_table_bytes.push_back(w->table_bytes());
    st.umem_bytes.push_back(w->umem_bytes());
  }
  if (cap) {
    st.flow_table_bytes.insert(st.flow_table_bytes.end(), cap->table_bytes.begin(), cap->table_bytes.end());
    st.umem_bytes.insert(st.umem_bytes.end(), cap->umem_bytes.begin(), cap->umem_bytes.end());
  }
  st.flow_evictions = evictions;
  {
    ControlStatus& cs = st.control;
    cs.dns = opts_.control.dns;
    cs.tcp_handshake = opts_.control.tcp_handshake;
    const auto& ds = control_.dns().stats();
    cs.dns_queries = ds.queries;
    cs.dns_responses = ds.responses;
    cs.dns_answered = ds.answered;
    cs.dns_timeouts = ds.timeouts;
    cs.dns_unmatched = ds.unmatched_responses;
    cs.dns_retries = ds.retries;
    cs.dns_pending = ds.pending;
    cs.dns_table_full = ds.table_full;
    const auto& ts = control_.handshakes().stats();
    cs.tcp_attempts = ts.attempts;
    cs.tcp_established = ts.established;
    cs.tcp_resets = ts.resets;
    cs.tcp_syn_retransmits = ts.syn_retransmits;
    cs.tcp_tracked = ts.tracked;
    cs.tcp_table_full = ts.table_full;
    for (const auto& rep : last_) {
      cs.dns_events_dropped += rep.control.dns_events_dropped;
      cs.tcp_events_dropped += rep.control.tcp_events_dropped;
      for (std::size_t s = 0; s < rep.control.dns_by_status.size(); ++s) {
        const auto status = static_cast<dns::ParseStatus>(s);
        if (!dns::header_valid(status) && rep.control.dns_by_status[s] != 0)
          cs.dns_malformed[dns::to_string(status)] += rep.control.dns_by_status[s];
      }
    }
    if (counters) cs.forced_copies = counters->stages.forced_copies;
  }
  st.copy_budget.budget = opts_.copy_budget;
  st.copy_budget.unseen_rate = unseen_rate_;
  if (counters) {
    st.copy_budget.max_scale = counters->copy_scale.max_scale;
    st.copy_budget.cpus_scaled = counters->copy_scale.cpus_scaled;
    st.copy_budget.raises = counters->copy_scale.raises;
    st.copy_budget.scaled_copies = counters->stages.scaled_copies;
  }

  if (counters) {
    const auto& sc = counters->stages;
    // Capture Stats.kernel_drops includes the ring-full drops reported on
    // their own line; kernel_drop keeps only the rest (rx_dropped).
    const std::uint64_t other_kernel_drops = kernel_drops > ring_full ? kernel_drops - ring_full : 0;
    st.losses = {
        {"sampler", "clone_failed", sc.clone_failures - sc.clone_nomem, false},
        {"sampler", "clone_nomem", sc.clone_nomem, false},
        {"sampler", "heartbeat_stale", sc.heartbeat_stale, true},
        {"mirror", "mirror_error", sc.mirror_errors, false},
        {"xdp", "redirect_miss", counters->xdp_misses, false},
        {"socket", "sequence_gap", gaps, true},
        {"socket", "xsk_ring_full", ring_full, false},
        {"socket", "fill_ring_empty", fill_empty, false},
        {"socket", "kernel_drop", other_kernel_drops, false},
        {"worker", "invalid_sample", invalid, true},
        {"worker", "table_full", evictions, false},
        // Counted, but into the overflow record: endpoints unknown.
        {"worker", "unattributed_overflow", overflow_updates, false},
    };
    ExactFlowStatus& ex = st.exact_flows;
    ex.mode = datapath::to_string(opts_.exact_flows);
    ex.counted_skbs = sc.flow_counted;
    ex.uncounted = {{"map_full", sc.flow_map_full},
                    {"declined", sc.flow_declined},
                    {"malformed", sc.flow_malformed},
                    {"no_map", sc.flow_no_map}};
    if (flow_counts_) {
      const auto& fs = flow_counts_->stats();
      ex.drains = fs.drains;
      ex.flows_last_drain = fs.last_flows;
      ex.last_drain_ns = fs.last_drain_ns;
      ex.map_capacity = flow_counts_->slot_capacity();
      ex.map_resizes = fs.resizes;
      if (fs.resize_errors != 0 && !resize_error_logged_) {
        resize_error_logged_ = true;
        log::warn("resizing the kernel's flow count map; it keeps its size", {{"error", fs.last_resize_error}});
      }
      ex.drain_errors = exact_drain_errors_;
    }
    std::map<std::uint32_t, InterfaceCounters> ifs;
    for (const auto& c : counters->interfaces) {
      auto link = links.find(c.ifindex);
      if (link == links.end()) continue;  // unhooked since, or the mirror
      InterfaceCounters& ic = ifs[c.ifindex];
      ic.ifindex = c.ifindex;
      ic.name = link->second.name;
      ic.role = role_name(link->second.role);
      ic.backend = st.backend;
      ic.hook = opts_.base_status.kernel_features.contains("tcx") && opts_.base_status.kernel_features.at("tcx")
                    ? "tcx"
                    : "clsact";
      // Directions are the hook's: what the interface receives is its ingress.
      if (c.direction == NETRING_DIR_INGRESS) {
        ic.rx_packets += c.segs;
        ic.rx_bytes += c.bytes;
        ic.rx_wire_bytes += c.wire_bytes;
      } else {
        ic.tx_packets += c.segs;
        ic.tx_bytes += c.bytes;
        ic.tx_wire_bytes += c.wire_bytes;
      }
    }
    for (const auto& [ifindex, link] : links) {
      if (ifs.contains(ifindex) || link.role == discovery::LinkRole::kCapturePort) continue;
      InterfaceCounters& ic = ifs[ifindex];
      ic.ifindex = ifindex;
      ic.name = link.name;
      ic.role = role_name(link.role);
      ic.backend = st.backend;
    }
    for (auto& [_, ic] : ifs) snap.interfaces.push_back(std::move(ic));
  } else {
    log::warn("datapath counters", {{"error", counters.error().message()}});
  }
  if (cap) {
    st.losses.insert(st.losses.end(), cap->losses.begin(), cap->losses.end());
    for (auto& ic : cap->interfaces) snap.interfaces.push_back(std::move(ic));
    std::sort(snap.interfaces.begin(), snap.interfaces.end(),
              [](const InterfaceCounters& a, const InterfaceCounters& b) { return a.ifindex < b.ifindex; });
  }

  for (const auto& [kind, h] : metadata_.health()) {
    WatchHealth w;
    w.resource = k8s::to_string(kind);
    w.connected = h.watching;
    w.synced = h.synced;
    w.restarts = h.watches > 0 ? h.watches - 1 : 0;
    w.relists = h.gone;
    w.errors = h.errors;
    w.last_event_ns = h.last_event_ns;
    st.watches.push_back(std::move(w));
  }
  const k8s::IndexStats ix = metadata_.index().stats();
  st.kube_index = {ix.pods,        ix.pods_in_grace, ix.services, ix.nodes,  ix.endpoint_slices,
                   ix.remote_pods, ix.ips,           ix.refused,  ix.evicted};

  if (opts_.add_status) opts_.add_status(st);
  if (opts_.on_ended && !ended.empty()) opts_.on_ended(ended);
  if (dns_changed_ || !dns_published_) {
    dns_published_ = std::make_shared<const std::vector<DnsRecord>>(dns_recent_.begin(), dns_recent_.end());
    dns_changed_ = false;
  }
  snap.dns = dns_published_;
  metrics_.update_flows(snap.flows, ended, pods_gone, opts_.on_growth ? &growth_ : nullptr);
  if (opts_.on_growth) opts_.on_growth(snap.taken_ns, growth_);
  release_if_large(growth_);
  store_.publish(std::move(snap));
  published_ = store_.snapshot();  // this publisher is the store's only writer
  published_workers_ = std::move(masks);
  ended.clear();
  ended.shrink_to_fit();
  release_free_heap();  // the previous snapshot and this round's temporaries
}

}  // namespace netring::agent
