#include "pkg/handshake/tracker.hpp"

namespace netring::handshake {
namespace {

constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;

using flow::endpoint_key;

}  // namespace

const char* to_string(Side s) {
  switch (s) {
    case Side::kNone: return "none";
    case Side::kClient: return "client";
    case Side::kServer: return "server";
    case Side::kUnknown: return "unknown";
  }
  return "unknown";
}

Connection* Tracker::lookup(const flow::FlowKey& k) {
  auto it = conns_.find(k);
  return it == conns_.end() ? nullptr : &it->second;
}

const Connection* Tracker::find(const flow::FlowKey& key) const {
  if (auto it = conns_.find(endpoint_key(key, true)); it != conns_.end()) return &it->second;
  if (auto it = conns_.find(endpoint_key(key, false)); it != conns_.end()) return &it->second;
  return nullptr;
}

void Tracker::packet(const flow::FlowKey& key, std::uint8_t flags, std::uint64_t ts) {
  ++stats_.packets;
  if (flags & kRst) {
    Side side = Side::kClient;
    Connection* c = lookup(endpoint_key(key, true));
    if (c == nullptr) {
      c = lookup(endpoint_key(key, false));
      side = Side::kServer;
    }
    if (c == nullptr) {
      ++stats_.resets;
      events_.push_back(Event{.kind = Event::Kind::kReset, .key = key, .side = Side::kUnknown});
      return;
    }
    c->last_ns = ts;
    if (c->reset_by == Side::kNone) {
      c->reset_by = side;
      ++stats_.resets;
      events_.push_back(Event{.kind = Event::Kind::kReset, .key = c->key, .side = side});
    }
    return;
  }
  if ((flags & (kSyn | kAck)) == kSyn) {
    const flow::FlowKey client = endpoint_key(key, true);
    Connection* c = lookup(client);
    // The same client port again after a connection that got further: a new one.
    if (c != nullptr && (c->synack_ns != 0 || c->reset_by != Side::kNone || c->fin_by != Side::kNone)) {
      conns_.erase(client);
      c = nullptr;
    }
    if (c != nullptr) {
      ++c->syns;
      ++stats_.syn_retransmits;
      // The SYN-ACK answers the latest SYN.
      c->syn_ns = ts;
      c->last_ns = ts;
      return;
    }
    if (conns_.size() >= cfg_.max_connections) {
      ++stats_.table_full;
      return;
    }
    Connection n;
    n.key = key;
    n.syn_ns = n.created_ns = n.last_ns = ts;
    n.syns = 1;
    conns_.emplace(client, n);
    if (order_.size() >= 2 * cfg_.max_connections)
      std::erase_if(order_, [this](const Order& o) {
        auto it = conns_.find(o.key);
        return it == conns_.end() || it->second.created_ns != o.created;
      });
    order_.push_back(Order{ts, ts, client});
    ++stats_.attempts;
    stats_.tracked = conns_.size();
    events_.push_back(Event{.kind = Event::Kind::kAttempt, .key = key});
    return;
  }
  if ((flags & (kSyn | kAck)) == (kSyn | kAck)) {
    if (Connection* c = lookup(endpoint_key(key, false))) {
      ++c->synacks;
      c->responder = key.src;
      c->responder_port = key.src_port;
      c->synack_ns = ts;  // a retransmitted SYN-ACK: the ACK answers the latest
      c->last_ns = ts;
    }
    return;
  }
  if (flags & kFin) {
    Side side = Side::kClient;
    Connection* c = lookup(endpoint_key(key, true));
    if (c == nullptr) {
      c = lookup(endpoint_key(key, false));
      side = Side::kServer;
    }
    if (c != nullptr) {
      if (c->fin_by == Side::kNone) c->fin_by = side;
      c->last_ns = ts;
    }
    return;
  }
  if (flags & kAck) {
    Connection* c = lookup(endpoint_key(key, true));
    if (c == nullptr || c->synack_ns == 0 || c->established) return;
    c->ack_ns = ts < c->synack_ns ? c->synack_ns : ts;
    c->established = true;
    c->last_ns = ts;
    ++stats_.established;
    events_.push_back(Event{.kind = Event::Kind::kEstablished,
                            .key = c->key,
                            .syn_to_synack_ns = c->synack_ns >= c->syn_ns ? c->synack_ns - c->syn_ns : 0,
                            .synack_to_ack_ns = c->ack_ns - c->synack_ns});
  }
}

void Tracker::expire(std::uint64_t now) {
  // Each pass looks at the oldest entries; one still in use moves to the back.
  for (std::size_t n = order_.size(); n > 0 && !order_.empty(); --n) {
    const Order o = order_.front();
    if (o.ts + cfg_.linger_ns > now) break;
    order_.pop_front();
    auto it = conns_.find(o.key);
    if (it == conns_.end() || it->second.created_ns != o.created) continue;  // gone or replaced
    if (it->second.last_ns + cfg_.linger_ns > now) {
      order_.push_back(Order{it->second.last_ns, o.created, o.key});
      continue;
    }
    conns_.erase(it);
  }
  stats_.tracked = conns_.size();
}

std::vector<Event> Tracker::take() {
  std::vector<Event> out;
  out.swap(events_);
  return out;
}

}  // namespace netring::handshake
