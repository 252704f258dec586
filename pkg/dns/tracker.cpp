#include "pkg/dns/tracker.hpp"

#include <algorithm>
#include <cstring>

namespace netring::dns {

void Tracker::query(const flow::FlowKey& key, const Message& m, std::uint64_t ts_ns) {
  ++stats_.queries;
  PendingKey pk{endpoint_key(key, true), m.id};
  if (auto it = pending_.find(pk); it != pending_.end()) {
    ++stats_.retries;
    ++it->second.queries;
    return;
  }
  if (pending_.size() >= cfg_.max_pending) {
    ++stats_.table_full;
    return;
  }
  if (order_.size() >= 2 * cfg_.max_pending) {
    // Mostly answered queries, still in time order: keep the waiting ones.
    std::erase_if(order_, [this](const Order& o) {
      auto it = pending_.find(o.key);
      return it == pending_.end() || it->second.query_ns != o.ts;
    });
  }
  Exchange e;
  e.key = key;
  e.id = m.id;
  e.qtype = m.qtype;
  e.name = m.name;
  e.name_len = m.name_len;
  e.query_ns = ts_ns;
  pending_.emplace(pk, e);
  order_.push_back(Order{ts_ns, pk});
  stats_.pending = pending_.size();
}

void Tracker::response(const flow::FlowKey& key, const Message& m, std::uint64_t ts_ns) {
  ++stats_.responses;
  PendingKey pk{endpoint_key(key, false), m.id};
  auto it = pending_.find(pk);
  if (it == pending_.end()) {
    ++stats_.unmatched_responses;
    Exchange e;
    e.outcome = Exchange::Outcome::kUnmatchedResponse;
    e.key = reversed(key);
    e.responder = key.src;
    e.responder_port = key.src_port;
    e.id = m.id;
    e.qtype = m.qtype;
    e.rcode = m.rcode;
    e.name = m.name;
    e.name_len = m.name_len;
    e.response_ns = ts_ns;
    e.queries = 0;
    done_.push_back(e);
    return;
  }
  Exchange e = it->second;
  pending_.erase(it);
  stats_.pending = pending_.size();
  ++stats_.answered;
  e.outcome = Exchange::Outcome::kAnswered;
  e.rcode = m.rcode;
  e.responder = key.src;
  e.responder_port = key.src_port;
  // Timestamps of two CPUs' copies may disagree by a little: never negative.
  e.response_ns = std::max(ts_ns, e.query_ns);
  if (e.qtype == 0) e.qtype = m.qtype;  // the query's question was cut short
  if (e.name_len == 0) {
    e.name = m.name;
    e.name_len = m.name_len;
  }
  done_.push_back(e);
}

void Tracker::expire(std::uint64_t now_ns) {
  while (!order_.empty()) {
    const Order& o = order_.front();
    if (o.ts + cfg_.timeout_ns > now_ns) break;
    auto it = pending_.find(o.key);
    // Still the same query (not answered, not replaced by a later one).
    if (it != pending_.end() && it->second.query_ns == o.ts) {
      Exchange e = it->second;
      pending_.erase(it);
      e.outcome = Exchange::Outcome::kTimeout;
      ++stats_.timeouts;
      done_.push_back(e);
    }
    order_.pop_front();
  }
  stats_.pending = pending_.size();
}

std::vector<Exchange> Tracker::take() {
  std::vector<Exchange> out;
  out.swap(done_);
  return out;
}

}  // namespace netring::dns
