#include "agent/model.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <ctime>

namespace netring::agent {

const char* to_string(FlowDirection d) {
  switch (d) {
    case FlowDirection::kIngress: return "ingress";
    case FlowDirection::kEgress: return "egress";
    case FlowDirection::kUnknown: break;
  }
  return "unknown";
}

const char* to_string(Reporter r) {
  switch (r) {
    case Reporter::kSource: return "source";
    case Reporter::kDestination: return "destination";
    case Reporter::kCapture: return "capture";
  }
  return "?";
}

std::string protocol_name(std::uint8_t proto) {
  switch (proto) {
    case IPPROTO_TCP: return "tcp";
    case IPPROTO_UDP: return "udp";
    case IPPROTO_ICMP: return "icmp";
    case IPPROTO_ICMPV6: return "icmpv6";
    case IPPROTO_SCTP: return "sctp";
    default: return std::to_string(proto);
  }
}

std::optional<std::uint8_t> parse_protocol(std::string_view name) {
  static constexpr std::pair<std::string_view, std::uint8_t> kNames[] = {{"tcp", IPPROTO_TCP},
                                                                         {"udp", IPPROTO_UDP},
                                                                         {"icmp", IPPROTO_ICMP},
                                                                         {"icmpv6", IPPROTO_ICMPV6},
                                                                         {"sctp", IPPROTO_SCTP}};
  for (const auto& [n, v] : kNames)
    if (n == name) return v;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), value);
  if (ec != std::errc{} || end != name.data() + name.size() || name.empty() || value > 255) return std::nullopt;
  return static_cast<std::uint8_t>(value);
}

const std::shared_ptr<const Identity>& IdentityRef::empty_identity() {
  static const auto empty = std::make_shared<const Identity>();
  return empty;
}

SnapshotStore::SnapshotStore() : current_(std::make_shared<AgentSnapshot>()) {}

void SnapshotStore::publish(AgentSnapshot snap) {
  {
    std::lock_guard lock(mu_);
    snap.generation = ++generation_;
    current_ = std::make_shared<const AgentSnapshot>(std::move(snap));
  }
  cv_.notify_all();
}

std::shared_ptr<const AgentSnapshot> SnapshotStore::snapshot() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::shared_ptr<const AgentSnapshot> SnapshotStore::wait_newer(std::uint64_t generation,
                                                               std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return generation_ > generation; });
  return current_;
}

std::uint64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace netring::agent
