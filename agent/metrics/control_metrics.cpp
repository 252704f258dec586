#include "agent/metrics/control_metrics.hpp"

#include "pkg/dns/message.hpp"

namespace netring::agent::metrics {
namespace {

// Latency buckets from 100 us (a resolver on the node) to 10 s (beyond any
// client's timeout), about four per decade.
const prometheus::Histogram::BucketBoundaries& latency_buckets() {
  static const prometheus::Histogram::BucketBoundaries b{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                         0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  return b;
}

std::string cache_key(const void* family, const prometheus::Labels& labels) {
  std::string k = std::to_string(reinterpret_cast<std::uintptr_t>(family));
  for (const auto& [name, value] : labels) {
    k.push_back('\x1f');
    k += name;
    k.push_back('=');
    k += value;
  }
  return k;
}

}  // namespace

ControlMetrics::ControlMetrics(prometheus::Registry& registry, LabelLevel level, std::size_t max_series,
                               bool qname_label)
    : level_(level),
      max_series_(max_series),
      qname_label_(qname_label),
      dns_queries_(prometheus::BuildCounter()
                       .Name("netring_dns_queries_total")
                       .Help("DNS queries by client (src_*) and server (dst_*) identity: every query message seen, "
                             "retries included (the sampler copies every DNS message)")
                       .Register(registry)),
      dns_responses_(prometheus::BuildCounter()
                         .Name("netring_dns_responses_total")
                         .Help("DNS responses by client and server identity and response code")
                         .Register(registry)),
      dns_timeouts_(prometheus::BuildCounter()
                        .Name("netring_dns_timeouts_total")
                        .Help("DNS queries without a response within --dns-timeout")
                        .Register(registry)),
      dns_latency_(prometheus::BuildHistogram()
                       .Name("netring_dns_latency_seconds")
                       .Help("Time from a DNS query (its first copy) to its response, both as seen at this node")
                       .Register(registry)),
      tcp_attempts_(prometheus::BuildCounter()
                        .Name("netring_tcp_connection_attempts_total")
                        .Help("TCP connection attempts (a SYN of a new connection; retransmitted SYNs count once)")
                        .Register(registry)),
      tcp_established_(prometheus::BuildCounter()
                           .Name("netring_tcp_connections_established_total")
                           .Help("TCP connections whose handshake completed (SYN, SYN-ACK, then the client's ACK)")
                           .Register(registry)),
      tcp_resets_(prometheus::BuildCounter()
                      .Name("netring_tcp_resets_total")
                      .Help("TCP connections reset, by the side that sent the first RST (client, server; unknown "
                            "when the connection's SYN was not seen: src_* is then the RST's sender)")
                      .Register(registry)),
      tcp_handshake_(prometheus::BuildHistogram()
                         .Name("netring_tcp_handshake_seconds")
                         .Help("TCP handshake round trip as seen at this node: phase syn_synack (SYN to SYN-ACK, "
                               "the server side) and synack_ack (SYN-ACK to the client's ACK, the client side)")
                         .Register(registry)),
      dropped_(prometheus::BuildCounter()
                   .Name("netring_control_series_dropped_total")
                   .Help("DNS and TCP connection metric updates dropped because their series would have passed "
                         "--max-series")
                   .Register(registry)
                   .Add({})) {}

template <class T>
T* ControlMetrics::get(prometheus::Family<T>& family, const prometheus::Labels& labels,
                       std::map<std::string, T*>& cache, const prometheus::Histogram::BucketBoundaries* buckets) {
  const std::string k = cache_key(&family, labels);
  if (auto it = cache.find(k); it != cache.end()) return it->second;
  if (series_ >= max_series_) {
    dropped_.Increment();
    return nullptr;
  }
  T* m;
  if constexpr (std::is_same_v<T, prometheus::Histogram>)
    m = &family.Add(labels, *buckets);
  else
    m = &family.Add(labels);
  ++series_;
  if (level_ == LabelLevel::kPod) pod_series_.add(k, labels, [&family, m] { family.Remove(m); });
  cache.emplace(k, m);
  return m;
}

void ControlMetrics::remove_pods(std::span<const std::string> pods) {
  std::lock_guard lk(mu_);
  for (const std::string& k : pod_series_.remove(pods)) {
    series_ -= counters_.erase(k) + histograms_.erase(k);
  }
}

prometheus::Labels ControlMetrics::dns_labels(const Identity& client, const Identity& server,
                                              std::string_view qname) const {
  prometheus::Labels l = pair_labels(level_, client, server);
  // The root's name is "."; a name the snap length cut off is empty.
  if (qname_label_) l.emplace("qname", qname.empty() ? "(unknown)" : std::string(qname));
  return l;
}

void ControlMetrics::dns_query(const Identity& client, const Identity& server, std::string_view qname) {
  prometheus::Labels l = dns_labels(client, server, qname);
  std::lock_guard lk(mu_);
  if (auto* c = get(dns_queries_, l, counters_)) c->Increment();
}

void ControlMetrics::dns_response(const Identity& client, const Identity& server, std::string_view qname,
                                  std::uint8_t rcode) {
  prometheus::Labels l = dns_labels(client, server, qname);
  l.emplace("rcode", dns::rcode_name(rcode));
  std::lock_guard lk(mu_);
  if (auto* c = get(dns_responses_, l, counters_)) c->Increment();
}

void ControlMetrics::dns_answered(const Identity& client, const Identity& server, std::string_view qname,
                                  double latency_s) {
  prometheus::Labels l = dns_labels(client, server, qname);
  std::lock_guard lk(mu_);
  if (auto* h = get(dns_latency_, l, histograms_, &latency_buckets())) h->Observe(latency_s);
}

void ControlMetrics::dns_timeout(const Identity& client, const Identity& server, std::string_view qname) {
  prometheus::Labels l = dns_labels(client, server, qname);
  std::lock_guard lk(mu_);
  if (auto* c = get(dns_timeouts_, l, counters_)) c->Increment();
}

void ControlMetrics::tcp_attempt(const Identity& client, const Identity& server) {
  std::lock_guard lk(mu_);
  if (auto* c = get(tcp_attempts_, pair_labels(level_, client, server), counters_)) c->Increment();
}

void ControlMetrics::tcp_established(const Identity& client, const Identity& server, double syn_synack_s,
                                     double synack_ack_s) {
  prometheus::Labels l = pair_labels(level_, client, server);
  std::lock_guard lk(mu_);
  if (auto* c = get(tcp_established_, l, counters_)) c->Increment();
  l.emplace("phase", "syn_synack");
  if (syn_synack_s > 0)
    if (auto* h = get(tcp_handshake_, l, histograms_, &latency_buckets())) h->Observe(syn_synack_s);
  l["phase"] = "synack_ack";
  if (auto* h = get(tcp_handshake_, l, histograms_, &latency_buckets())) h->Observe(synack_ack_s);
}

void ControlMetrics::tcp_reset(const Identity& client, const Identity& server, const char* side) {
  prometheus::Labels l = pair_labels(level_, client, server);
  l.emplace("side", side);
  std::lock_guard lk(mu_);
  if (auto* c = get(tcp_resets_, l, counters_)) c->Increment();
}

std::size_t ControlMetrics::series() const {
  std::lock_guard lk(mu_);
  return series_;
}

}  // namespace netring::agent::metrics
