#include "agent/k8s/resolver.hpp"

#include <pthread.h>
#include <time.h>

#include <algorithm>

#include "agent/k8s/sax.hpp"
#include "agent/k8s/watch.hpp"
#include "agent/log.hpp"

namespace netring::agent::k8s {
namespace {

// Where pods live when the nodes' pod CIDRs cannot tell: RFC 1918, the
// shared address space of RFC 6598 (some CNIs' default) and IPv6 ULAs.
const std::vector<Cidr>& private_ranges() {
  static const std::vector<Cidr> r = [] {
    std::vector<Cidr> v;
    for (const char* s : {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"})
      v.push_back(*Cidr::parse(s));
    return v;
  }();
  return r;
}

bool finished(const Object& pod) {
  return pod.phase == "Succeeded" || pod.phase == "Failed";
}

}  // namespace

Resolver::Resolver(ClientConfig client, ResolverOptions opts, Index& index)
    : client_cfg_(std::move(client)), opts_(std::move(opts)), index_(index) {}

Resolver::~Resolver() {
  stop();
}

Result<void> Resolver::start() {
  auto c = Client::create(client_cfg_);
  if (!c) return std::move(c).take_error();
  client_ = std::move(*c);
  client_->set_keep_alive(true);  // lookups come in bursts: one TLS handshake, not one per lookup
  index_.set_miss_handler([this](const IpAddress& ip, bool stale) { on_miss(ip, stale); });
  thread_ = std::thread([this] { run(); });
  return ok();
}

void Resolver::stop() {
  if (!thread_.joinable()) return;
  index_.set_miss_handler(nullptr);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  client_->stop();
  thread_.join();
}

ResolverHealth Resolver::health() const {
  ResolverHealth h;
  {
    std::lock_guard lock(mu_);
    h = health_;
  }
  h.cidrs_trusted = cidrs_trusted_.load();
  if (client_) {
    h.bytes = client_->bytes_received();
    h.requests = client_->requests();
  }
  return h;
}

std::chrono::nanoseconds Resolver::cpu_time() const {
  if (!thread_.joinable()) return {};
  clockid_t clock;
  timespec ts{};
  if (pthread_getcpuclockid(const_cast<std::thread&>(thread_).native_handle(), &clock) != 0) return {};
  if (clock_gettime(clock, &ts) != 0) return {};
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

size_t Resolver::pending() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

Resolver::Target Resolver::target_of(const IpAddress& ip) const {
  Target t;
  if (cidrs_trusted_.load()) {
    if (auto node = index_.pod_cidr_node(ip)) {
      // This node's range holds this node's pods: the watch names them all.
      t.in_scope = *node != opts_.node_name;
      t.node = *node;
      return t;
    }
    // Outside every node's range: no pod, when the cluster has ranges at all.
    if (index_.has_pod_cidrs()) return t;
  }
  t.in_scope =
      std::any_of(private_ranges().begin(), private_ranges().end(), [&](const Cidr& c) { return c.contains(ip); });
  return t;
}

void Resolver::on_miss(const IpAddress& ip, bool stale) {
  auto now = Clock::now();
  {
    std::lock_guard lock(mu_);
    if (stopping_ || pending_.count(ip)) return;
    if (!stale) {
      auto neg = negative_.find(ip);
      if (neg != negative_.end()) {
        if (now < neg->second) return;
        negative_.erase(neg);
      }
    }
  }
  Target t = target_of(ip);  // takes the index's lock: not under ours
  std::lock_guard lock(mu_);
  if (!t.in_scope) {
    // Remembered like an address no pod holds, so the ranges are not scanned on every flow.
    ++health_.out_of_scope;
    if (negative_.size() >= opts_.max_negative)
      std::erase_if(negative_, [&](const auto& kv) { return kv.second <= now; });
    if (negative_.size() < opts_.max_negative) negative_[ip] = now + opts_.negative_ttl;
    return;
  }
  if (queue_.size() >= opts_.max_pending) {
    ++health_.dropped;  // the next round's flows report it again
    return;
  }
  if (!pending_.insert(ip).second) return;
  queue_.push_back(ip);
  cv_.notify_one();
}

void Resolver::distrust_cidrs(const std::string& why) {
  if (cidrs_trusted_.exchange(false)) {
    log::warn("pod IPs are not allocated from the nodes' spec.podCIDRs; pod lookups go untargeted",
              {{"evidence", why}});
  }
}

bool Resolver::lookup(const IpAddress& ip, const std::string& node, bool& found) {
  found = false;
  std::string selector = "status.podIP=" + ip.str();
  if (!node.empty()) selector += ",spec.nodeName=" + node;
  std::string path = "/api/v1/pods?fieldSelector=" + url_escape(selector) + "&resourceVersion=0";
  std::string body;
  constexpr size_t kMaxBody = 4u << 20;  // a few pods at most share an address
  auto resp = client_->get(
      path,
      [&](std::string_view chunk) {
        if (body.size() + chunk.size() > kMaxBody) return false;
        body.append(chunk);
        return true;
      },
      opts_.request_timeout);
  auto failed = [&](const std::string& why) {
    std::lock_guard lock(mu_);
    ++health_.errors;
    health_.last_error = why;
    return false;
  };
  if (!resp) return failed("lookup " + ip.str() + ": " + resp.error().message());
  if (resp->status != 200) return failed("lookup " + ip.str() + ": HTTP " + std::to_string(resp->status));

  // Several pods can show one address: a finished pod keeps status.podIP
  // after a new pod took it over. A running pod wins, then one being deleted.
  std::optional<Object> best;
  auto rank = [](const Object& p) { return finished(p) ? 0 : p.deleting ? 1 : 2; };
  size_t items = 0;
  auto info = parse_list(body, [&](Object&& pod) {
    ++items;
    if (pod.host_network || finished(pod)) return;  // a host-network pod's address is its node's
    if (!best || rank(pod) > rank(*best)) best = std::move(pod);
  });
  if (!info) return failed("lookup " + ip.str() + ": " + info.error().message());

  auto now = Clock::now();
  {
    std::lock_guard lock(mu_);
    ++health_.lookups;
    health_.items += items;
    if (!node.empty()) ++health_.targeted;
  }
  if (!best) return true;
  found = true;
  if (node.empty() && cidrs_trusted_.load()) {
    auto owner = index_.pod_cidr_node(ip);
    if (owner ? *owner != best->node_name : index_.has_pod_cidrs())
      distrust_cidrs(ip.str() + " is pod " + best->namespace_ + "/" + best->name + " on node " + best->node_name +
                     (owner ? ", inside node " + *owner + "'s pod CIDR" : ", outside every node's pod CIDR"));
  }
  index_.set_remote(ip, &*best, now + opts_.ttl, now + 2 * opts_.ttl);
  return true;
}

void Resolver::run() {
  using namespace std::chrono;
  const double rate = std::max<double>(opts_.rate, 1e-9);
  const double burst = std::max(1.0, rate);
  double tokens = burst;
  auto refilled = Clock::now();
  // Waits for the token of one request; false when stopping. Called with `lock` held.
  auto take_token = [&](std::unique_lock<std::mutex>& lock) {
    while (!stopping_) {
      auto now = Clock::now();
      tokens = std::min(burst, tokens + duration<double>(now - refilled).count() * rate);
      refilled = now;
      if (tokens >= 1.0) {
        tokens -= 1.0;
        return true;
      }
      cv_.wait_for(lock, duration_cast<Clock::duration>(duration<double>((1.0 - tokens) / rate)),
                   [&] { return stopping_; });
    }
    return false;
  };
  int failures = 0;
  std::mt19937_64 rng(std::random_device{}());
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (!take_token(lock)) return;
    IpAddress ip = queue_.front();
    queue_.pop_front();
    lock.unlock();

    Target t = target_of(ip);
    bool found = false;
    bool ok = lookup(ip, t.node, found);
    if (found && !t.node.empty()) ++confirmed_;
    if (ok && !found && !t.node.empty() && confirmed_ < kConfirmations) {
      // Not on the node its range names: either no pod holds it, or the CNI
      // allocates elsewhere. One untargeted look settles it, until enough
      // targeted lookups found their pods for the ranges to be trusted (an
      // untargeted lookup makes the API server scan every pod).
      lock.lock();
      bool go = take_token(lock);
      lock.unlock();
      if (!go) return;
      ok = lookup(ip, "", found);
      if (ok && found) distrust_cidrs(ip.str() + " is a pod, but not on node " + t.node + " whose pod CIDR holds it");
    }
    auto done = Clock::now();
    if (ok && !found) index_.set_remote(ip, nullptr, done, done);

    lock.lock();
    pending_.erase(ip);
    if (ok) {
      failures = 0;
      if (found) {
        ++health_.found;
        negative_.erase(ip);
      } else {
        ++health_.not_found;
        if (negative_.size() >= opts_.max_negative) {
          std::erase_if(negative_, [&](const auto& kv) { return kv.second <= done; });
        }
        if (negative_.size() < opts_.max_negative) negative_[ip] = done + opts_.negative_ttl;
      }
      continue;
    }
    // The API is unwell: back off (the address comes back with the next flows).
    ++failures;
    auto base = opts_.backoff_initial * (1LL << std::clamp(failures - 1, 0, 20));
    auto capped = std::min<milliseconds>(duration_cast<milliseconds>(base), opts_.backoff_max);
    std::uniform_int_distribution<int64_t> jitter(0, std::max<int64_t>(capped.count() / 2, 0));
    auto wait = milliseconds(capped.count() - capped.count() / 2 + jitter(rng));
    log::warn("pod lookup failed", {{"error", health_.last_error}, {"retry_in_ms", wait.count()}});
    cv_.wait_for(lock, wait, [&] { return stopping_; });
  }
}

}  // namespace netring::agent::k8s
