#include "agent/http/http_listener.hpp"

#include <cerrno>
#include <chrono>
#include <utility>

namespace netring::agent::http {

HttpListener::HttpListener(std::unique_ptr<httplib::Server> server) : server_(std::move(server)) {
  // Streams (follow, capture) write for a long time; a client that stops
  // reading must still not pin a thread forever.
  server_->set_write_timeout(10, 0);
  server_->set_read_timeout(10, 0);
  // httplib writes the headers and the body of a response separately. With
  // Nagle on, a body that fits in a few segments (a gzipped /metrics is
  // ~15 KB at 1k series) waits behind the unacknowledged header segment for
  // the client's delayed ACK: 40 ms added to the scrape for nothing.
  server_->set_tcp_nodelay(true);
}

HttpListener::~HttpListener() {
  stop();
}

Result<void> HttpListener::start(const ListenAddress& addr) {
  errno = 0;
  int port = addr.port == 0 ? server_->bind_to_any_port(addr.host)
                            : (server_->bind_to_port(addr.host, addr.port) ? addr.port : -1);
  if (port < 0) {
    Error e = Error::from_errno("bind", addr.str());
    if (e.code() == 0) e = Error("bind", EADDRNOTAVAIL, addr.str());
    if (e.code() == EACCES) return std::move(e).with_hint("ports below 1024 need CAP_NET_BIND_SERVICE");
    return e;
  }
  port_ = port;
  returned_ = false;
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    returned_ = true;
  });
  return ok();
}

void HttpListener::stop() {
  if (thread_.joinable()) {
    // Server::stop() does nothing until the accept loop runs: a stop right
    // after start() would otherwise leave the thread listening forever.
    while (!server_->is_running() && !returned_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    server_->stop();
    thread_.join();
  }
}

}  // namespace netring::agent::http
