#include "agent/http/gated_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace netring::agent::http {
namespace {

using Clock = std::chrono::steady_clock;

// httplib's accept loop runs each connection's task through this queue: run
// it right away, since GatedServer's task only queues the socket.
class InlineQueue : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

bool wait_for(int fd, short events, std::chrono::milliseconds timeout) {
  pollfd p{fd, events, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (rc < 0 && errno == EINTR);
  return rc > 0 && (p.revents & (events | POLLHUP | POLLERR)) != 0;
}

void ip_and_port(const sockaddr_storage& ss, std::string& ip, int& port) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
    port = ntohs(a->sin6_port);
  }
  ip = buf;
}

// The connection as httplib's request processing sees it: the header the
// event thread already read, then the socket (non-blocking, waited on with
// poll under the given timeouts).
class ConnStream : public httplib::Stream {
 public:
  ConnStream(int fd, const std::string& header, std::chrono::milliseconds write_timeout)
      : fd_(fd), header_(header), write_timeout_(write_timeout) {}

  bool is_readable() const override { return pos_ < header_.size() || wait_for(fd_, POLLIN, kReadTimeout); }
  bool is_writable() const override { return wait_for(fd_, POLLOUT, write_timeout_); }

  ssize_t read(char* ptr, size_t size) override {
    if (pos_ < header_.size()) {
      const std::size_t n = std::min(size, header_.size() - pos_);
      std::memcpy(ptr, header_.data() + pos_, n);
      pos_ += n;
      return static_cast<ssize_t>(n);
    }
    if (!wait_for(fd_, POLLIN, kReadTimeout)) return -1;
    ssize_t n;
    do {
      n = ::recv(fd_, ptr, size, 0);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    ssize_t n;
    do {
      n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;  // httplib calls again
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) ip_and_port(ss, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) ip_and_port(ss, ip, port);
  }
  socket_t socket() const override { return fd_; }

 private:
  // A body after the header (none of the listener's routes takes one).
  static constexpr std::chrono::milliseconds kReadTimeout{2000};
  int fd_;
  const std::string& header_;
  std::size_t pos_ = 0;
  std::chrono::milliseconds write_timeout_;
};

void close_connection(int fd) {
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

// "GET /healthz?x=1 HTTP/1.1\r\n..." -> "/healthz"
std::string target_path(const std::string& header) {
  const std::size_t sp = header.find(' ');
  if (sp == std::string::npos) return {};
  const std::size_t end = header.find_first_of(" ?\r", sp + 1);
  return header.substr(sp + 1, end == std::string::npos ? std::string::npos : end - sp - 1);
}

}  // namespace

GatedServer::GatedServer(Limits limits) : limits_(limits) {
  new_task_queue = [] { return new InlineQueue; };
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  workers_ = std::make_unique<httplib::ThreadPool>(limits_.workers);
  event_thread_ = std::thread([this] { event_loop(); });
}

GatedServer::~GatedServer() {
  stop();
  stopping_ = true;
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
  if (event_thread_.joinable()) event_thread_.join();
  workers_->shutdown();  // finishes the queued responses, joins
  for (auto& p : pending_) ::close(p.fd);
  {
    std::lock_guard lock(incoming_mu_);
    for (int fd : incoming_) ::close(fd);
  }
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

GatedServer::Stats GatedServer::stats() const {
  return {accepted_.load(),        served_inline_.load(), served_by_workers_.load(),
          header_timeouts_.load(), evicted_.load(),       oversized_.load()};
}

bool GatedServer::process_and_close_socket(socket_t sock) {
  if (!backlog_widened_) {
    // Debian's httplib listens with a backlog of 5: a burst of connections
    // beyond it has SYNs dropped and retried a second later, longer than a
    // probe's timeout. listen() again on the listening socket only resizes
    // its queue; this runs on the accept thread, the socket's only user.
    backlog_widened_ = true;
    ::listen(svr_sock_, SOMAXCONN);
  }
  ::fcntl(sock, F_SETFL, ::fcntl(sock, F_GETFL) | O_NONBLOCK);
  {
    std::lock_guard lock(incoming_mu_);
    incoming_.push_back(sock);
  }
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
  return true;
}

void GatedServer::event_loop() {
  epoll_event events[64];
  while (!stopping_) {
    int timeout_ms = -1;
    if (!pending_.empty()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(pending_.front().deadline - Clock::now()).count();
      timeout_ms = static_cast<int>(std::max<long long>(0, left) + 1);
    }
    const int n = ::epoll_wait(epoll_fd_, events, 64, timeout_ms);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        std::uint64_t v;
        (void)!::read(wake_fd_, &v, sizeof(v));
        std::vector<int> fresh;
        {
          std::lock_guard lock(incoming_mu_);
          fresh.swap(incoming_);
        }
        for (int c : fresh) admit(c);
      } else {
        on_readable(fd);
      }
    }
    const auto now = Clock::now();
    while (!pending_.empty() && pending_.front().deadline <= now) {
      if (!pending_.front().refused) ++header_timeouts_;
      drop(pending_.begin());
    }
  }
}

void GatedServer::admit(int fd) {
  ++accepted_;
  pending_.push_back({fd, Clock::now() + limits_.header_timeout, {}});
  by_fd_[fd] = std::prev(pending_.end());
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    drop(std::prev(pending_.end()));
    return;
  }
  // Most clients send their header with the connection: read it now. A
  // burst of complete requests admitted in one batch (1,000 follows at
  // once) would otherwise sit unread behind the batch and be evicted below
  // as "oldest", which closed a fifth of them unanswered.
  on_readable(fd);
  // Past the cap the oldest connection still sending its header goes; its
  // socket may hold the rest of a header not read yet, so read that first.
  while (pending_.size() > limits_.max_pending) {
    const int oldest = pending_.front().fd;
    on_readable(oldest);
    auto it = by_fd_.find(oldest);
    if (it == by_fd_.end()) continue;  // completed and dispatched, or gone
    ++evicted_;
    drop(it->second);
  }
}

void GatedServer::drop(std::list<Pending>::iterator it) {
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->fd, nullptr);
  close_connection(it->fd);
  by_fd_.erase(it->fd);
  pending_.erase(it);
}

void GatedServer::on_readable(int fd) {
  auto f = by_fd_.find(fd);
  if (f == by_fd_.end()) return;
  auto it = f->second;
  std::string& h = it->header;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n > 0 && it->refused) continue;
    if (n > 0) {
      const std::size_t from = h.size() < 3 ? 0 : h.size() - 3;
      h.append(buf, static_cast<std::size_t>(n));
      if (h.find("\r\n\r\n", from) != std::string::npos) {
        std::string header = std::move(h);
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
        by_fd_.erase(fd);
        pending_.erase(it);
        dispatch(fd, std::move(header));
        return;
      }
      if (h.size() > limits_.max_header_bytes) {
        ++oversized_;
        refuse_oversized(fd, h);
        it->refused = true;
        std::string().swap(h);
        continue;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    drop(it);  // closed by the peer, or an error
    return;
  }
}

void GatedServer::dispatch(int fd, std::string header) {
  if (inline_paths_.count(target_path(header)) != 0) {
    ++served_inline_;
    serve(fd, header, limits_.inline_write_timeout);
    return;
  }
  ++served_by_workers_;
  workers_->enqueue([this, fd, header = std::move(header)] { serve(fd, header, limits_.write_timeout); });
}

// One non-blocking send on the event thread: the answer is a few hundred
// bytes, which an empty send buffer takes at once; what follows from the
// client is read and dropped (on_readable) until it closes or the deadline.
void GatedServer::refuse_oversized(int fd, const std::string& header) {
  const bool line = header.find("\r\n") == std::string::npos;
  const int status = line ? 414 : 431;
  const std::string body =
      std::string("{\"error\":\"") + (line ? "the request line is too long" : "the request headers are too large") +
      " (HTTP " + std::to_string(status) + ", at most " + std::to_string(limits_.max_header_bytes) + " bytes)\"}\n";
  std::string out =
      "HTTP/1.1 " + std::to_string(status) + " " + (line ? "URI Too Long" : "Request Header Fields Too Large") +
      "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n";
  for (const auto& [k, v] : limits_.oversized_headers) out += k + ": " + v + "\r\n";
  out += "\r\n" + body;
  (void)!::send(fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(fd, SHUT_WR);
}

void GatedServer::serve(int fd, const std::string& header, std::chrono::milliseconds write_timeout) {
  ConnStream strm(fd, header, write_timeout);
  bool closed = false;
  process_request(strm, /*close_connection=*/true, closed, [](httplib::Request&) {});
  close_connection(fd);
}

}  // namespace netring::agent::http
