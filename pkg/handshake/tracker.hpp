// TCP connection set-up as the node sees it, from the control packets the
// sampler always copies (SYN, SYN-ACK, the handshake's final ACK, FIN, RST):
// attempts, connections established, resets and which side sent them, and
// the two halves of the handshake's round trip at this node's hook
// (SYN -> SYN-ACK: the server side's share, including the path to it;
// SYN-ACK -> ACK: the client side's).
//
// Fed in timestamp order (the caller merges the capture workers' packets:
// the two directions of a connection usually go to different workers).
// Connections are keyed by their client's address and port: a SYN to a
// Service address passes the client's hook before the DNAT, its SYN-ACK the
// server's hook (or the NIC) before the reverse translation, from the pod's
// address (see pkg/dns/tracker.hpp for the same on DNS).
//
// Bounded: at most max_connections are remembered; connections are
// forgotten `linger` after their last control packet. Single-threaded.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <vector>

#include "pkg/flow/key.hpp"

namespace netring::handshake {

enum class Side : std::uint8_t { kNone, kClient, kServer, kUnknown };
const char* to_string(Side s);  // "none", "client", "server", "unknown"

struct Connection {
  flow::FlowKey key;  // client -> server (the SYN's direction, as addressed)
  // Where the SYN-ACK came from: the pod behind a Service address.
  flow::Address responder{};
  std::uint16_t responder_port = 0;
  std::uint64_t syn_ns = 0, synack_ns = 0, ack_ns = 0;  // CLOCK_MONOTONIC, 0 = not seen
  std::uint64_t created_ns = 0;
  std::uint64_t last_ns = 0;
  std::uint32_t syns = 0;  // SYNs seen (retransmissions beyond the first)
  std::uint32_t synacks = 0;
  bool established = false;  // SYN, SYN-ACK and then the client's ACK seen
  Side reset_by = Side::kNone;
  Side fin_by = Side::kNone;  // the first FIN's sender

  std::uint64_t syn_to_synack_ns() const { return syn_ns && synack_ns ? synack_ns - syn_ns : 0; }
  std::uint64_t synack_to_ack_ns() const { return synack_ns && ack_ns ? ack_ns - synack_ns : 0; }
};

// Something the metrics count, once.
struct Event {
  enum class Kind : std::uint8_t { kAttempt, kEstablished, kReset };
  Kind kind = Kind::kAttempt;
  flow::FlowKey key;                   // client -> server (a reset of an unknown connection: as sent)
  std::uint64_t syn_to_synack_ns = 0;  // kEstablished
  std::uint64_t synack_to_ack_ns = 0;  // kEstablished
  Side side = Side::kNone;             // kReset: who sent it
};

struct TrackerConfig {
  std::size_t max_connections = 65536;
  std::uint64_t linger_ns = 120'000'000'000;
};

struct TrackerStats {
  std::uint64_t packets = 0;
  std::uint64_t attempts = 0;
  std::uint64_t established = 0;
  std::uint64_t resets = 0;
  std::uint64_t syn_retransmits = 0;
  std::uint64_t table_full = 0;  // SYNs of connections not tracked
  std::uint64_t tracked = 0;
};

class Tracker {
 public:
  explicit Tracker(TrackerConfig cfg = {}) : cfg_(cfg) {}

  // A TCP packet as seen (key in its own direction), with its flags.
  void packet(const flow::FlowKey& key, std::uint8_t tcp_flags, std::uint64_t ts_ns);
  // Forgets connections idle for `linger`.
  void expire(std::uint64_t now_ns);

  // The connection a flow belongs to (either direction), if remembered.
  const Connection* find(const flow::FlowKey& key) const;
  std::vector<Event> take();
  const TrackerStats& stats() const { return stats_; }

 private:
  struct Order {
    std::uint64_t ts;       // when to look at it again
    std::uint64_t created;  // which connection of that key it is
    flow::FlowKey key;
  };
  Connection* lookup(const flow::FlowKey& client_to_server);

  TrackerConfig cfg_;
  TrackerStats stats_;
  std::unordered_map<flow::FlowKey, Connection, flow::FlowKeyHash> conns_;
  std::deque<Order> order_;  // by creation time
  std::vector<Event> events_;
};

}  // namespace netring::handshake
