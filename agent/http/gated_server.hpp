// An httplib::Server that a flood of idle or slow connections cannot starve.
//
// httplib hands every accepted connection to a pool thread that then waits
// for the request (keep-alive wait, then a read timeout per recv): a few
// connections that send nothing, or send a header one byte at a time, pin
// the whole pool, and a kubelet probe queued behind them fails. Here the
// accept thread hands each connection to one event thread (epoll) that reads
// the request header without blocking, under a deadline for the whole header
// and a cap on connections still sending theirs (the oldest of those is
// closed to admit a new one; a header already received is read first, so a
// burst of complete requests is answered, never evicted). Only a complete request reaches httplib's parser and
// routes: paths registered with answer_inline() (cheap handlers: the probes)
// are answered on the event thread itself, never queued; the others on a
// small worker pool. One request per connection ("Connection: close").
// A header longer than the limit is answered 414 or 431 and closed.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace netring::agent::http {

class GatedServer : public httplib::Server {
 public:
  struct Limits {
    // The whole request header, from accept to its blank line. A kubelet
    // probe sends it at once; anything slower than this is closed.
    std::chrono::milliseconds header_timeout{2000};
    // Connections still sending their header; past it the oldest of them is closed.
    std::size_t max_pending = 512;
    std::size_t max_header_bytes = 16 * 1024;
    std::size_t workers = 4;
    // Writing a worker's response (a large /metrics body to a slow reader).
    std::chrono::milliseconds write_timeout{10000};
    // Writing an inline answer: it is small and must not hold the event thread.
    std::chrono::milliseconds inline_write_timeout{200};
    // Sent with the answer to a header past max_header_bytes (414 when its
    // request line alone is that long, else 431; a JSON body), which httplib
    // never sees: the server's default headers do not reach it.
    httplib::Headers oversized_headers{};
  };
  struct Stats {
    std::uint64_t accepted = 0;
    std::uint64_t served_inline = 0;
    std::uint64_t served_by_workers = 0;
    std::uint64_t header_timeouts = 0;  // closed: header not complete in time
    std::uint64_t evicted = 0;          // closed: the oldest pending, to admit a newer one
    std::uint64_t oversized = 0;        // closed: header longer than max_header_bytes
  };

  explicit GatedServer(Limits limits);
  GatedServer() : GatedServer(Limits{}) {}
  ~GatedServer() override;
  GatedServer(const GatedServer&) = delete;
  GatedServer& operator=(const GatedServer&) = delete;

  // Requests for `path` (the target without its query) are answered on the
  // event thread. Register before the server starts.
  void answer_inline(std::string path) { inline_paths_.insert(std::move(path)); }

  Stats stats() const;

 private:
  struct Pending {
    int fd;
    std::chrono::steady_clock::time_point deadline;
    std::string header;
    // Answered 414/431: what it still sends is read and dropped until it
    // closes or the deadline passes, since closing a socket with unread data
    // sends a reset that can destroy the answer before the client reads it.
    bool refused = false;
  };

  // Called for each accepted connection on the accept thread (the task
  // queue runs it inline): queues the socket for the event thread.
  bool process_and_close_socket(socket_t sock) override;

  void event_loop();
  void admit(int fd);
  void on_readable(int fd);
  void drop(std::list<Pending>::iterator it);
  void dispatch(int fd, std::string header);
  void serve(int fd, const std::string& header, std::chrono::milliseconds write_timeout);
  void refuse_oversized(int fd, const std::string& header);

  const Limits limits_;
  std::set<std::string> inline_paths_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: new connections, or stop
  std::atomic<bool> stopping_{false};
  bool backlog_widened_ = false;  // accept thread only

  std::mutex incoming_mu_;
  std::vector<int> incoming_;

  // Event thread only: pending connections, oldest first (all share one
  // timeout, so arrival order is deadline order).
  std::list<Pending> pending_;
  std::unordered_map<int, std::list<Pending>::iterator> by_fd_;

  std::atomic<std::uint64_t> accepted_{0}, served_inline_{0}, served_by_workers_{0}, header_timeouts_{0}, evicted_{0},
      oversized_{0};

  std::unique_ptr<httplib::ThreadPool> workers_;
  std::thread event_thread_;
};

}  // namespace netring::agent::http
