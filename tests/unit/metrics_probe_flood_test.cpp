// The kubelet's probes against a flood on the metrics listener: it listens
// on 0.0.0.0 so Prometheus can scrape it, which means every pod can open
// connections to it. Hundreds of connections that send nothing, and
// slowloris-style ones that send a header a line at a time and never finish
// it, must not keep /healthz and /readyz from answering at once.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "agent/metrics/agent_metrics.hpp"
#include "agent/metrics/metrics_server.hpp"
#include "agent/model.hpp"

namespace {

using namespace netring::agent;
using Clock = std::chrono::steady_clock;

constexpr int kIdle = 300;
constexpr int kSlow = 100;

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void send_all(int fd, const std::string& s) {
  (void)!::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
}

struct Flood {
  std::vector<int> fds;
  std::atomic<bool> stop{false};
  std::thread dripper;

  Flood(int port) {
    for (int i = 0; i < kIdle; ++i) {
      const int fd = connect_to(port);
      if (fd >= 0) fds.push_back(fd);
    }
    std::vector<int> slow;
    for (int i = 0; i < kSlow; ++i) {
      const int fd = connect_to(port);
      if (fd < 0) continue;
      // Half start a request line and stop; half send a request line and
      // then one more header line every 100 ms, never the blank line.
      send_all(fd, i % 2 ? "GE" : "GET /metrics HTTP/1.1\r\nHost: flood\r\n");
      fds.push_back(fd);
      if (i % 2 == 0) slow.push_back(fd);
    }
    dripper = std::thread([this, slow] {
      for (int n = 0; !stop; ++n) {
        for (int fd : slow) send_all(fd, "X-Drip-" + std::to_string(n) + ": 1\r\n");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  ~Flood() {
    stop = true;
    dripper.join();
    for (int fd : fds) ::close(fd);
  }
};

// One probe as the kubelet makes it: a new connection, a GET, a 1 s timeout
// (the default timeoutSeconds).
struct ProbeResult {
  int status = 0;
  double ms = 0;
};
ProbeResult probe(int port, const char* path) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(1, 0);
  c.set_read_timeout(1, 0);
  c.set_write_timeout(1, 0);
  const auto t0 = Clock::now();
  auto r = c.Get(path);
  ProbeResult out;
  out.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  out.status = r ? r->status : 0;
  return out;
}

TEST(MetricsProbes, AnswerWithinAHundredMillisecondsUnderAConnectionFlood) {
  // Each flood connection is two descriptors here (client and server end).
  rlimit rl{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &rl), 0);
  rl.rlim_cur = rl.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &rl);
  ASSERT_GE(rl.rlim_cur, 2 * (kIdle + kSlow) + 64) << "RLIMIT_NOFILE's hard limit is below what the flood needs";

  SnapshotStore store;
  metrics::AgentMetrics m(store, {});
  metrics::MetricsServer server(m, store);
  auto addr = http::parse_listen_address("127.0.0.1:0");
  ASSERT_TRUE(addr.ok());
  ASSERT_TRUE(server.start(*addr).ok());
  const int port = server.port();

  const auto t0 = Clock::now();
  Flood flood(port);
  std::printf("flood: %zu connections in %.0f ms\n", flood.fds.size(),
              std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  ASSERT_GE(flood.fds.size(), static_cast<std::size_t>((kIdle + kSlow) * 9 / 10)) << "the flood could not connect";
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the flood is in the server's hands

  std::vector<double> ms;
  for (int i = 0; i < 10; ++i) {
    ProbeResult h = probe(port, "/healthz");
    EXPECT_EQ(h.status, 200) << "probe " << i << " after " << h.ms << " ms";
    ms.push_back(h.ms);
  }
  ProbeResult r = probe(port, "/readyz");
  EXPECT_EQ(r.status, 503) << "readiness must answer (not ready yet) after " << r.ms << " ms";
  std::sort(ms.begin(), ms.end());
  std::printf("/healthz under the flood: fastest %.1f ms, median %.1f ms, slowest %.1f ms\n", ms.front(),
              ms[ms.size() / 2], ms.back());
  // The median, so that one scheduling hiccup of a loaded machine does not
  // decide; every probe above still had to answer within the kubelet's 1 s.
  EXPECT_LT(ms[ms.size() / 2], 100.0) << "median /healthz latency under the flood, fastest " << ms.front()
                                      << " ms, slowest " << ms.back() << " ms";

  // Prometheus still gets its scrape.
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(5, 0);
  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("netring_build_info{"), std::string::npos);
  server.stop();
}

}  // namespace
