#include "agent/k8s/watch.hpp"

#include <pthread.h>
#include <time.h>

#include <algorithm>

#include "agent/k8s/sax.hpp"
#include "agent/log.hpp"

namespace netring::agent::k8s {
namespace {

// The Status message of an error body, when it is one.
std::string status_message(const std::string& body) {
  if (body.empty()) return "";
  auto info = parse_list(body, [](Object&&) {});
  if (info.ok() && info->kind == "Status") return info->status.message;
  return body.substr(0, 200);
}

uint64_t wall_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

std::string url_escape(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string collection_path(ResourceKind kind) {
  if (kind == ResourceKind::kEndpointSlice) return "/apis/discovery.k8s.io/v1/endpointslices";
  return std::string("/api/v1/") + to_string(kind);
}

Watcher::Watcher(ClientConfig client, WatchOptions opts, Index& index)
    : client_cfg_(std::move(client)), opts_(opts), index_(index), rng_(std::random_device{}()) {}

Watcher::~Watcher() {
  stop();
}

std::string Watcher::selectors() const {
  std::string q;
  if (!opts_.field_selector.empty()) q += "&fieldSelector=" + url_escape(opts_.field_selector);
  if (!opts_.label_selector.empty()) q += "&labelSelector=" + url_escape(opts_.label_selector);
  return q;
}

Result<void> Watcher::start() {
  auto c = Client::create(client_cfg_);
  if (!c) return std::move(c).take_error();
  client_ = std::move(*c);
  thread_ = std::thread([this] { run(); });
  return ok();
}

void Watcher::stop() {
  if (!thread_.joinable()) return;
  stop_.store(true, std::memory_order_release);
  // httplib's stop() only affects a request already in flight; repeat it
  // until the thread notices, in case it was just starting a new one. Called
  // without mu_ held: the watcher thread takes mu_ inside httplib callbacks.
  while (!done_.load()) {
    cv_.notify_all();
    client_->stop();
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return done_.load(); });
  }
  thread_.join();
}

WatchHealth Watcher::health() const {
  WatchHealth h;
  {
    std::lock_guard lock(mu_);
    h = health_;
  }
  if (client_) {
    h.bytes = client_->bytes_received();
    h.requests = client_->requests();
  }
  return h;
}

std::chrono::nanoseconds Watcher::cpu_time() const {
  if (!thread_.joinable()) return {};
  clockid_t clock;
  timespec ts{};
  if (pthread_getcpuclockid(const_cast<std::thread&>(thread_).native_handle(), &clock) != 0) return {};
  if (clock_gettime(clock, &ts) != 0) return {};
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

bool Watcher::wait_synced(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return health_.synced; });
}

void Watcher::fail(const std::string& what) {
  ++failures_;
  {
    std::lock_guard lock(mu_);
    ++health_.errors;
    health_.last_error = what;
    health_.watching = false;
  }
  log::warn("kubernetes request failed",
            {{"resource", to_string(opts_.kind)}, {"error", what}, {"attempt", failures_}});
}

void Watcher::sleep_backoff() {
  // Exponential, capped, with "equal jitter": half fixed, half random, so
  // retries spread out yet never come back immediately.
  auto base = opts_.backoff_initial * (1LL << std::clamp(failures_ - 1, 0, 20));
  auto capped = std::min<std::chrono::milliseconds>(std::chrono::duration_cast<std::chrono::milliseconds>(base),
                                                    opts_.backoff_max);
  std::uniform_int_distribution<int64_t> jitter(0, std::max<int64_t>(capped.count() / 2, 0));
  auto wait = std::chrono::milliseconds(capped.count() - capped.count() / 2 + jitter(rng_));
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, wait, [&] { return stopping(); });
}

void Watcher::mark_synced(const std::string& rv) {
  index_.end_resync(opts_.kind);
  rv_ = rv;
  failures_ = 0;
  {
    std::lock_guard lock(mu_);
    ++health_.lists;
    health_.synced = true;
    health_.last_event_ns = wall_now_ns();
    health_.resource_version = rv_;
  }
  cv_.notify_all();
  log::info("kubernetes state in sync", {{"resource", to_string(opts_.kind)},
                                         {"resourceVersion", rv_},
                                         {"by", stream_ok_ ? "watch-list stream" : "list"}});
}

void Watcher::run() {
  bool need_sync = true;
  while (!stopping()) {
    Outcome o;
    if (need_sync && stream_ok_) {
      o = watch(true);
      if (o == Outcome::kRefused) {
        // Not an error: this server (or its WatchList gate) does not stream
        // initial state. List from now on, without a backoff.
        stream_ok_ = false;
        std::lock_guard lock(mu_);
        health_.streaming = false;
        continue;
      }
      // Once the end-of-initial-events bookmark arrived, the stream was a watch.
      if (rv_synced_stream_) need_sync = false;
    } else if (need_sync) {
      o = list();
      if (o == Outcome::kStopped) break;
      if (o == Outcome::kGone) ++failures_;  // an expired continue token: retry, but never in a tight loop
      if (o != Outcome::kOk) {
        sleep_backoff();
        continue;
      }
      need_sync = false;
      continue;
    } else {
      o = watch(false);
    }
    if (o == Outcome::kStopped) break;
    if (o == Outcome::kGone) {
      // Resync right away: the API told us our version is gone, not that it
      // is unwell. Unless the watch had nothing to show for itself (410 on a
      // version it just listed): then back off, so a confused server does
      // not get a relist storm.
      need_sync = true;
      if (watch_items_ == 0) {
        ++failures_;
        sleep_backoff();
      }
    } else if (o == Outcome::kError) {
      sleep_backoff();
    }
  }
  {
    std::lock_guard lock(mu_);
    health_.watching = false;
    done_.store(true);
  }
  cv_.notify_all();
}

Watcher::Outcome Watcher::list() {
  index_.begin_resync(opts_.kind);
  const std::string base = collection_path(opts_.kind);
  std::string continue_token;
  std::string list_rv;
  bool first = true;
  while (true) {
    std::string path = base + "?";
    if (first && opts_.small_collection) {
      // Served whole from the watch cache (limit would be ignored anyway).
      path += "resourceVersion=0";
    } else {
      // No resourceVersion: a consistent list, paginated by every server; a
      // continue token carries the version of the first page.
      path += "limit=" + std::to_string(opts_.page_size);
      if (!first) path += "&continue=" + url_escape(continue_token);
    }
    path += selectors();
    std::string body;
    bool too_big = false;
    auto resp = client_->get(
        path,
        [&](std::string_view chunk) {
          if (body.size() + chunk.size() > opts_.max_page_bytes) {
            too_big = true;
            return false;
          }
          body.append(chunk);
          return true;
        },
        std::chrono::seconds(60));
    if (stopping()) return Outcome::kStopped;
    if (!resp) {
      fail("list " + base + ": " + resp.error().message());
      return Outcome::kError;
    }
    if (too_big) {
      fail("list " + base + ": a page exceeds " + std::to_string(opts_.max_page_bytes) + " bytes");
      return Outcome::kError;
    }
    if (resp->status == 410) {
      // The continue token expired (the list took longer than the compaction window): start over.
      {
        std::lock_guard lock(mu_);
        ++health_.gone;
      }
      log::info("list continue token expired; relisting", {{"resource", to_string(opts_.kind)}});
      return Outcome::kGone;
    }
    if (resp->status != 200) {
      fail("list " + base + ": HTTP " + std::to_string(resp->status) + " " + status_message(resp->error_body));
      return Outcome::kError;
    }
    size_t items = 0;
    auto info = parse_list(body, [&](Object&& obj) {
      index_.upsert(opts_.kind, obj);
      ++items;
    });
    {
      std::lock_guard lock(mu_);
      ++health_.pages;
      health_.items += items;
      health_.max_page_bytes = std::max(health_.max_page_bytes, body.size());
    }
    if (!info) {
      fail("list " + base + ": " + info.error().message());
      return Outcome::kError;
    }
    if (!info->resource_version.empty() && list_rv.empty()) list_rv = info->resource_version;
    first = false;
    if (info->continue_token.empty()) break;
    continue_token = info->continue_token;
  }
  mark_synced(list_rv);
  return Outcome::kOk;
}

Watcher::Outcome Watcher::watch(bool initial) {
  std::uniform_int_distribution<int64_t> spread(0, opts_.watch_timeout.count());
  auto timeout = opts_.watch_timeout + std::chrono::seconds(spread(rng_));
  const std::string base = collection_path(opts_.kind);
  std::string path = base + "?watch=1&allowWatchBookmarks=true";
  if (initial) {
    // resourceVersion unset: the state is at least as new as the request (a consistent read).
    path += "&sendInitialEvents=true&resourceVersionMatch=NotOlderThan";
  } else {
    path += "&resourceVersion=" + url_escape(rv_);
  }
  path += "&timeoutSeconds=" + std::to_string(timeout.count()) + selectors();

  std::string line;
  std::string problem;
  bool gone = false;
  bool in_sync = !initial;  // past the initial state
  rv_synced_stream_ = false;
  watch_items_ = 0;
  if (initial) index_.begin_resync(opts_.kind);
  const auto started = std::chrono::steady_clock::now();
  auto handle_line = [&](std::string_view text) -> bool {
    auto ev = parse_watch_event(text);
    if (!ev) {
      problem = ev.error().message();
      return false;
    }
    Object& obj = ev->object;
    switch (ev->type) {
      case EventType::kAdded:
      case EventType::kModified: index_.upsert(opts_.kind, obj); break;
      case EventType::kDeleted: index_.remove(opts_.kind, obj); break;
      case EventType::kBookmark: break;
      case EventType::kError:
        if (obj.code == 410) {
          gone = true;
        } else {
          problem = "watch ERROR event: " + std::to_string(obj.code) + " " + obj.reason + ": " + obj.message;
        }
        return false;
    }
    if (!obj.resource_version.empty()) rv_ = obj.resource_version;
    ++watch_items_;
    if (!in_sync && ev->type == EventType::kBookmark && obj.initial_events_end) {
      in_sync = true;
      rv_synced_stream_ = true;
      {
        std::lock_guard lock(mu_);
        ++health_.bookmarks;
      }
      mark_synced(rv_);  // last: it wakes wait_synced()
      return true;
    }
    std::lock_guard lock(mu_);
    health_.last_event_ns = wall_now_ns();
    if (ev->type == EventType::kBookmark)
      ++health_.bookmarks;
    else if (in_sync)
      ++health_.events;
    else
      ++health_.items;
    if (in_sync) health_.resource_version = rv_;
    return true;
  };

  auto resp = client_->get(
      path,
      [&](std::string_view chunk) {
        while (!chunk.empty()) {
          if (stopping()) return false;
          size_t nl = chunk.find('\n');
          if (nl == std::string_view::npos) {
            if (line.size() + chunk.size() > opts_.max_event_bytes) {
              problem = "watch event longer than " + std::to_string(opts_.max_event_bytes) + " bytes";
              return false;
            }
            line.append(chunk);
            break;
          }
          line.append(chunk.substr(0, nl));
          chunk.remove_prefix(nl + 1);
          if (!line.empty() && !handle_line(line)) return false;
          line.clear();
        }
        return true;
      },
      timeout + opts_.read_timeout_margin,
      [&](int status) {
        if (status != 200) return;
        if (!initial) failures_ = 0;  // the server accepted the watch: it is healthy again
        std::lock_guard lock(mu_);
        health_.watching = true;
        ++health_.watches;
      });

  {
    std::lock_guard lock(mu_);
    health_.watching = false;
  }
  // Past its initial-events-end bookmark a watch-list stream is a watch like any other.
  const std::string what =
      initial && !rv_synced_stream_ ? "watch-list " + base : "watch " + base + " from resourceVersion " + rv_;
  if (stopping()) return Outcome::kStopped;
  if (!resp) {
    fail(what + ": " + resp.error().message());
    return Outcome::kError;
  }
  if (initial && !rv_synced_stream_ && (resp->status == 422 || resp->status == 400)) {
    // Invalid/BadRequest for sendInitialEvents or resourceVersionMatch: no watch-list here.
    log::info(
        "the API server does not stream initial state (watch-list); listing instead",
        {{"resource", to_string(opts_.kind)}, {"status", resp->status}, {"message", status_message(resp->error_body)}});
    return Outcome::kRefused;
  }
  if (gone || resp->status == 410) {
    {
      std::lock_guard lock(mu_);
      ++health_.gone;
    }
    log::info("resourceVersion too old (410 Gone); resyncing",
              {{"resource", to_string(opts_.kind)}, {"resourceVersion", rv_}, {"as", gone ? "event" : "status"}});
    return Outcome::kGone;
  }
  if (resp->status != 200) {
    fail(what + ": HTTP " + std::to_string(resp->status) + " " + status_message(resp->error_body));
    return Outcome::kError;
  }
  if (!problem.empty()) {
    fail(what + ": " + problem);
    return Outcome::kError;
  }
  if (!line.empty()) {
    // The stream ended mid-event (a dropped connection the server closed cleanly).
    fail(what + ": stream ended inside an event");
    return Outcome::kError;
  }
  if (!in_sync) {
    // Initial events without their closing bookmark: the state is incomplete.
    fail(what + ": stream ended before the initial-events-end bookmark");
    return Outcome::kError;
  }
  if (watch_items_ == 0 && std::chrono::steady_clock::now() - started < std::chrono::seconds(1)) {
    // A server that ends every watch at once would otherwise be re-asked in a tight loop.
    fail(what + ": ended immediately without events");
    return Outcome::kError;
  }
  return Outcome::kOk;
}

}  // namespace netring::agent::k8s
