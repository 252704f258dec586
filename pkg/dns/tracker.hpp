// Matches DNS queries to their responses by (5-tuple, id) and times them.
//
// The server's half of the 5-tuple is the one thing that may differ between
// a query and its response as the node sees them: a query to a Service
// address (kube-dns) passes the client's hook before the DNAT, and the
// response passes the server pod's hook (or the NIC) before the reverse
// translation, so it comes from the pod's address. The match is therefore
// on the client's address and port, the protocol and the id (the client's
// resolver picks both port and id at random per query), and the exchange
// records the address that answered beside the one that was asked.
//
// Fed in timestamp order (the caller merges the capture workers' messages:
// a query and its response usually go to different workers, because a
// flow's worker is a function of its directional key). A query waits in a
// bounded table until its response comes or `timeout` passes (then it is a
// timeout); a response without a waiting query is counted as unmatched. A
// query repeated with the same id and 5-tuple before any answer (a client's
// retry) is counted as a query again but keeps its first time: its latency
// is measured from the first copy, as the client's user waits.
//
// Single-threaded; allocation happens at insertion only.
#pragma once

#include <cstdint>
#include <deque>
#include <unordered_map>
#include <vector>

#include "pkg/dns/message.hpp"
#include "pkg/flow/key.hpp"

namespace netring::dns {

// A DNS exchange as far as it went.
struct Exchange {
  enum class Outcome : std::uint8_t { kAnswered, kTimeout, kUnmatchedResponse };
  Outcome outcome = Outcome::kAnswered;
  flow::FlowKey key;          // client -> server, as the query was addressed
  flow::Address responder{};  // the address the response came from (0: none)
  std::uint16_t responder_port = 0;
  std::uint16_t id = 0;
  std::uint16_t qtype = 0;
  std::uint8_t rcode = 0;  // kAnswered and kUnmatchedResponse
  std::uint8_t name_len = 0;
  std::array<char, Message::kMaxName + 1> name{};
  std::uint64_t query_ns = 0;     // CLOCK_MONOTONIC; 0 for kUnmatchedResponse
  std::uint64_t response_ns = 0;  // 0 for kTimeout
  std::uint32_t queries = 1;      // copies of the query seen (retries)

  std::string_view qname() const { return {name.data(), name_len}; }
  std::uint64_t latency_ns() const { return outcome == Outcome::kAnswered ? response_ns - query_ns : 0; }
};

struct TrackerConfig {
  std::uint64_t timeout_ns = 5'000'000'000;
  std::size_t max_pending = 65536;
};

struct TrackerStats {
  std::uint64_t queries = 0;
  std::uint64_t responses = 0;
  std::uint64_t answered = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t unmatched_responses = 0;
  std::uint64_t retries = 0;     // a query again before its answer
  std::uint64_t table_full = 0;  // queries not timed: max_pending were waiting
  std::uint64_t pending = 0;     // waiting now
};

class Tracker {
 public:
  explicit Tracker(TrackerConfig cfg = {}) : cfg_(cfg) {}

  // `key` as seen: the query's is client -> server, the response's server -> client.
  void query(const flow::FlowKey& key, const Message& m, std::uint64_t ts_ns);
  void response(const flow::FlowKey& key, const Message& m, std::uint64_t ts_ns);
  // Queries older than now - timeout become timeouts.
  void expire(std::uint64_t now_ns);

  // The exchanges completed (answered, timed out, unmatched) since the last call.
  std::vector<Exchange> take();
  const TrackerStats& stats() const { return stats_; }
  const TrackerConfig& config() const { return cfg_; }

 private:
  struct PendingKey {
    flow::FlowKey key;
    std::uint16_t id;
    bool operator==(const PendingKey& o) const { return id == o.id && key == o.key; }
  };
  struct PendingHash {
    std::size_t operator()(const PendingKey& k) const { return flow::hash_key(k.key, 0x9e3779b97f4a7c15ull + k.id); }
  };
  struct Order {
    std::uint64_t ts;
    PendingKey key;
  };

  TrackerConfig cfg_;
  TrackerStats stats_;
  std::unordered_map<PendingKey, Exchange, PendingHash> pending_;
  std::deque<Order> order_;  // insertion order of pending_ (entries may be answered since)
  std::vector<Exchange> done_;
};

using flow::endpoint_key;
using flow::reversed;

}  // namespace netring::dns
