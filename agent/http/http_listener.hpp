// One cpp-httplib server on its own accept thread: the agent's single HTTP
// stack, used by the metrics listener (a GatedServer, so the kubelet's
// probes survive connection floods) and the API listener.
#pragma once

#include <httplib.h>

#include <atomic>
#include <memory>
#include <thread>

#include "agent/http/listen_address.hpp"
#include "pkg/common/error.hpp"

namespace netring::agent::http {

class HttpListener {
 public:
  HttpListener() : HttpListener(std::make_unique<httplib::Server>()) {}
  explicit HttpListener(std::unique_ptr<httplib::Server> server);
  ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  // Register routes here before start().
  httplib::Server& server() { return *server_; }

  // Binds (an error names the address and errno: EADDRINUSE, EACCES...) and
  // serves on a background thread.
  Result<void> start(const ListenAddress& addr);
  // The bound port (the real one when started with port 0).
  int port() const { return port_; }
  // Stops accepting, waits for the accept thread.
  void stop();

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = -1;
  std::atomic<bool> returned_{false};
};

}  // namespace netring::agent::http
