// GatedServer's limits one by one: the header deadline, the cap on pending
// connections, the header size, and inline answers that never wait behind
// the worker pool.
#include "agent/http/gated_server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/http/http_listener.hpp"

namespace {

using netring::agent::http::GatedServer;
using netring::agent::http::HttpListener;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Served {
  GatedServer* gate;
  HttpListener listener;
  explicit Served(GatedServer::Limits limits)
      : gate(new GatedServer(limits)), listener(std::unique_ptr<httplib::Server>(gate)) {
    gate->answer_inline("/healthz");
    gate->Get("/healthz",
              [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
    auto addr = netring::agent::http::parse_listen_address("127.0.0.1:0");
    EXPECT_TRUE(addr.ok());
    EXPECT_TRUE(listener.start(*addr).ok());
  }
  int port() const { return listener.port(); }
};

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  return fd;
}

// Waits up to `limit` for the server to close `fd`; returns how long it took,
// or nothing if it stayed open.
std::optional<std::chrono::milliseconds> closed_within(int fd, std::chrono::milliseconds limit) {
  const auto t0 = Clock::now();
  pollfd p{fd, POLLIN, 0};
  while (Clock::now() - t0 < limit) {
    if (::poll(&p, 1, 50) > 0) {
      char c;
      if (::recv(fd, &c, 1, MSG_DONTWAIT) <= 0)
        return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
    }
  }
  return std::nullopt;
}

std::string read_to_close(int fd, std::chrono::milliseconds limit);

int healthz(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(1, 0);
  c.set_read_timeout(1, 0);
  auto r = c.Get("/healthz");
  return r ? r->status : 0;
}

TEST(GatedServer, ClosesAConnectionThatSendsNoHeaderInTime) {
  Served s({.header_timeout = 300ms});
  const int fd = connect_to(s.port());
  auto t = closed_within(fd, 5s);
  ASSERT_TRUE(t) << "an idle connection stayed open";
  EXPECT_GE(t->count(), 250);
  EXPECT_EQ(s.gate->stats().header_timeouts, 1u);
  ::close(fd);
}

TEST(GatedServer, ADripFedHeaderIsCutAtTheDeadline) {
  Served s({.header_timeout = 400ms});
  const int fd = connect_to(s.port());
  std::atomic<bool> stop{false};
  std::thread drip([&] {
    (void)!::send(fd, "GET /healthz HTTP/1.1\r\n", 23, MSG_NOSIGNAL);
    while (!stop) {
      (void)!::send(fd, "X: 1\r\n", 6, MSG_NOSIGNAL);
      std::this_thread::sleep_for(50ms);
    }
  });
  auto t = closed_within(fd, 5s);
  stop = true;
  drip.join();
  ASSERT_TRUE(t) << "a header that never ends kept its connection";
  EXPECT_EQ(s.gate->stats().header_timeouts, 1u);
  ::close(fd);
}

TEST(GatedServer, ThePendingCapClosesTheOldestAndAdmitsTheNewest) {
  Served s({.header_timeout = 30s, .max_pending = 4});
  int fds[5];
  for (int& fd : fds) fd = connect_to(s.port());
  // The fifth idle connection is past the cap: the oldest goes.
  auto t = closed_within(fds[0], 5s);
  EXPECT_TRUE(t) << "the oldest pending connection was not closed";
  EXPECT_FALSE(closed_within(fds[4], 200ms)) << "a newer pending connection was closed";
  EXPECT_EQ(s.gate->stats().evicted, 1u);
  // A probe past the cap is answered (an idle connection makes room).
  EXPECT_EQ(healthz(s.port()), 200);
  for (int fd : fds) ::close(fd);
}

// Complete requests arriving together, far past the cap on connections
// still sending their header, are all answered: only idle ones are evicted.
TEST(GatedServer, ABurstOfCompleteRequestsPastTheCapIsAnswered) {
  Served s({.header_timeout = 30s, .max_pending = 4});
  int idle[4];
  for (int& fd : idle) fd = connect_to(s.port());
  std::vector<int> burst;
  for (int i = 0; i < 200; ++i) {
    const int fd = connect_to(s.port());
    const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(::send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), static_cast<ssize_t>(sizeof(req) - 1));
    burst.push_back(fd);
  }
  int answered = 0;
  for (int fd : burst) {
    if (read_to_close(fd, 5s).rfind("HTTP/1.1 200", 0) == 0) ++answered;
    ::close(fd);
  }
  EXPECT_EQ(answered, 200) << "evicted: " << s.gate->stats().evicted;
  EXPECT_LE(s.gate->stats().evicted, 4u);  // the idle ones at most
  for (int fd : idle) ::close(fd);
}

// Everything the server sends until it closes (or `limit` passes).
std::string read_to_close(int fd, std::chrono::milliseconds limit) {
  std::string out;
  const auto t0 = Clock::now();
  pollfd p{fd, POLLIN, 0};
  char buf[4096];
  while (Clock::now() - t0 < limit) {
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// A header past the limit is answered (JSON, with the configured headers)
// and closed: 431 when the request line ended within it, 414 when not.
TEST(GatedServer, AnOversizedHeaderIsAnswered431Or414AndClosed) {
  Served s({.max_header_bytes = 1024, .oversized_headers = {{"Netring-Api-Version", "1"}}});
  int fd = connect_to(s.port());
  const std::string big = "GET /healthz HTTP/1.1\r\nX: " + std::string(2048, 'a');
  (void)!::send(fd, big.data(), big.size(), MSG_NOSIGNAL);
  std::string got = read_to_close(fd, 5s);
  EXPECT_EQ(got.rfind("HTTP/1.1 431 ", 0), 0u) << got;
  EXPECT_NE(got.find("\r\nNetring-Api-Version: 1\r\n"), std::string::npos) << got;
  EXPECT_NE(got.find("{\"error\":\"the request headers are too large (HTTP 431, at most 1024 bytes)\"}"),
            std::string::npos)
      << got;
  ::close(fd);

  // A 100 kB request line, still being sent when the answer goes out: the
  // rest is read and dropped, so the client gets the answer, not a reset.
  fd = connect_to(s.port());
  std::thread sender([fd] {
    const std::string line = "GET /healthz?q=" + std::string(100 * 1024, 'a');
    for (std::size_t off = 0; off < line.size();) {
      const ssize_t n = ::send(fd, line.data() + off, std::min<std::size_t>(4096, line.size() - off), MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    ::shutdown(fd, SHUT_WR);
  });
  got = read_to_close(fd, 5s);
  sender.join();
  EXPECT_EQ(got.rfind("HTTP/1.1 414 URI Too Long\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("Content-Type: application/json"), std::string::npos) << got;
  EXPECT_EQ(s.gate->stats().oversized, 2u);
  EXPECT_EQ(s.gate->stats().header_timeouts, 0u);
  ::close(fd);
}

// The workers busy with slow responses: the inline path still answers.
TEST(GatedServer, InlinePathsNeverWaitBehindTheWorkers) {
  Served s({.workers = 1});
  std::atomic<int> in_slow{0};
  s.gate->Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    ++in_slow;
    std::this_thread::sleep_for(1500ms);
    res.set_content("done\n", "text/plain");
  });
  std::thread slow_clients([&] {
    httplib::Client c("127.0.0.1", s.port());
    c.set_read_timeout(10, 0);
    for (int i = 0; i < 2; ++i) EXPECT_TRUE(c.Get("/slow"));
  });
  while (in_slow == 0) std::this_thread::sleep_for(5ms);
  const auto t0 = Clock::now();
  EXPECT_EQ(healthz(s.port()), 200);
  EXPECT_LT(Clock::now() - t0, 1s) << "/healthz waited for the busy worker";
  slow_clients.join();
  const auto st = s.gate->stats();
  EXPECT_EQ(st.served_inline, 1u);
  EXPECT_EQ(st.served_by_workers, 2u);
}

TEST(GatedServer, ServesWorkerRoutesWithBodiesAndClosesTheConnection) {
  Served s({});
  const std::string big(1 << 20, 'x');
  s.gate->Get("/big", [&](const httplib::Request&, httplib::Response& res) { res.set_content(big, "text/plain"); });
  httplib::Client c("127.0.0.1", s.port());
  auto r = c.Get("/big?x=1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, big);
  EXPECT_EQ(r->get_header_value("Connection"), "close");
  auto again = c.Get("/healthz");  // the client reconnects
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  auto missing = c.Get("/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

}  // namespace
