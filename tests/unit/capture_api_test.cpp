// /api/v1/capture: off by default; when on, a pcap stream of the samples
// that match the filter, read back with libpcap and with tshark; bounded in
// packets and time; one capture at a time (429); every capture audited.
#include <gtest/gtest.h>
#include <httplib.h>
#include <pcap/pcap.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "agent/api/api_server.hpp"
#include "tests/testing/netns.hpp"
#include "tests/testing/packet_builder.hpp"

namespace netring::agent::api {
namespace {

using nlohmann::json;
using testing::PacketBuilder;

std::vector<std::uint8_t> dns_query(std::size_t payload) {
  return PacketBuilder().eth().ipv4("10.1.0.1", "10.3.0.10").udp(53001, 53).payload(payload).build();
}
std::vector<std::uint8_t> web(std::size_t payload) {
  return PacketBuilder().eth().ipv4("10.1.0.1", "10.1.0.2").tcp(40001, 8080).payload(payload).build();
}

// Plays the workers: while a capture is subscribed, offers batches of
// samples (DNS and web, alternating) to the tap.
class Feeder {
 public:
  explicit Feeder(capture_api::CaptureTap& tap) : tap_(tap) {
    thread_ = std::thread([this] {
      auto dns = dns_query(20), big = dns_query(1000), tcp = web(100);
      std::uint64_t ts = 1'700'000'000'000'000'000ull;
      while (!quit_) {
        if (tap_.active()) {
          capture::PacketView batch[3];
          auto view = [&](const std::vector<std::uint8_t>& p) {
            capture::PacketView v;
            v.data = reinterpret_cast<const std::byte*>(p.data());
            v.len = static_cast<std::uint32_t>(p.size());
            v.orig_len = v.len;
            v.timestamp_ns = ts += 1000;
            v.ifindex = 7;
            return v;
          };
          batch[0] = view(dns);
          batch[1] = view(tcp);
          batch[2] = view(big);
          tap_.offer(batch);
          offered_ += 3;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    });
  }
  ~Feeder() {
    quit_ = true;
    thread_.join();
  }
  std::uint64_t offered() const { return offered_; }

 private:
  capture_api::CaptureTap& tap_;
  std::atomic<bool> quit_{false};
  std::atomic<std::uint64_t> offered_{0};
  std::thread thread_;
};

class CaptureApiTest : public ::testing::Test {
 protected:
  void start(bool enabled) {
    ApiOptions opts;
    opts.listen = {"127.0.0.1", 0};
    opts.capture.enabled = enabled;
    opts.capture.max_duration = std::chrono::seconds(120);
    opts.capture.max_packets = 1000;
    opts.capture.snap_len = 128;
    opts.audit_log = [this](const std::string& line) {
      std::lock_guard lock(mu_);
      audit_.push_back(line);
    };
    server_ = std::make_unique<ApiServer>(opts, store_, &tap_);
    auto r = server_->start();
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  httplib::Client client() {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(120, 0);
    return c;
  }
  std::vector<std::string> audit() {
    std::lock_guard lock(mu_);
    return audit_;
  }
  static std::string write_temp(const std::string& body) {
    char path[] = "/tmp/netring-capture-XXXXXX";
    int fd = mkstemp(path);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(write(fd, body.data(), body.size()), static_cast<ssize_t>(body.size()));
    close(fd);
    return path;
  }

  SnapshotStore store_;
  capture_api::CaptureTap tap_;
  std::mutex mu_;
  std::vector<std::string> audit_;
  std::unique_ptr<ApiServer> server_;
};

TEST_F(CaptureApiTest, DisabledByDefault) {
  EXPECT_FALSE(ApiOptions{}.capture.enabled);
  EXPECT_EQ(ApiOptions{}.capture.snap_len, 128u);  // headers only unless configured
  start(false);
  auto res = client().Get("/api/v1/capture?filter=udp&max_packets=1");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  json j = json::parse(res->body);
  EXPECT_NE(j["error"].get<std::string>().find("--enable-capture-api"), std::string::npos) << j.dump();
  EXPECT_FALSE(tap_.active());
  auto lines = audit();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("reason=disabled"), std::string::npos);
}

TEST_F(CaptureApiTest, StreamsMatchingSamplesAsPcapReadableByLibpcapAndTshark) {
  start(true);
  Feeder feeder(tap_);
  auto res = client().Get("/api/v1/capture?filter=udp%20port%2053&max_packets=10&duration=60s");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/vnd.tcpdump.pcap");
  EXPECT_EQ(res->get_header_value("Transfer-Encoding"), "chunked");
  std::string path = write_temp(res->body);

  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(path.c_str(), err);
  ASSERT_NE(p, nullptr) << err;
  EXPECT_EQ(pcap_datalink(p), DLT_EN10MB);
  EXPECT_EQ(pcap_snapshot(p), 128);
  int n = 0, truncated = 0;
  pcap_pkthdr* h;
  const u_char* data;
  while (pcap_next_ex(p, &h, &data) == 1) {
    ++n;
    // Ethernet + IPv4 + UDP to port 53, nothing else got through the filter.
    ASSERT_GE(h->caplen, 14u + 20u + 8u);
    EXPECT_EQ(data[12], 0x08);
    EXPECT_EQ(data[13], 0x00);
    EXPECT_EQ(data[14 + 9], 17);
    EXPECT_EQ((data[14 + 20 + 2] << 8) | data[14 + 20 + 3], 53);
    EXPECT_LE(h->caplen, 128u);
    if (h->len > h->caplen) {  // the 1000-byte query: headers only
      ++truncated;
      EXPECT_EQ(h->caplen, 128u);
      EXPECT_EQ(h->len, 14u + 20u + 8u + 1000u);
    }
  }
  pcap_close(p);
  EXPECT_EQ(n, 10);  // max_packets ended it
  EXPECT_GE(truncated, 4);

  auto t = testing::sh("(tshark -r " + path + " -T fields -e udp.dstport -e ip.dst 2>/dev/null)");
  EXPECT_TRUE(t.ok()) << t.output;
  std::size_t rows = 0;
  std::istringstream in(t.output);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    ++rows;
    EXPECT_EQ(line, "53\t10.3.0.10");
  }
  EXPECT_EQ(rows, 10u);
  unlink(path.c_str());

  EXPECT_FALSE(tap_.active());
  auto lines = audit();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("capture started"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("remote=\"127.0.0.1:"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("filter=\"udp port 53\""), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("duration=60000ms"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("ended=max_packets packets=10"), std::string::npos) << lines[1];
}

TEST_F(CaptureApiTest, EndsAtTheDuration) {
  start(true);
  Feeder feeder(tap_);
  auto t0 = std::chrono::steady_clock::now();
  auto res = client().Get("/api/v1/capture?filter=tcp&duration=300ms");
  auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_GE(elapsed, std::chrono::milliseconds(300));
  std::string path = write_temp(res->body);
  auto t = testing::sh("tshark -r " + path + " -T fields -e tcp.dstport 2>/dev/null | sort -u");
  unlink(path.c_str());
  EXPECT_TRUE(t.ok());
  EXPECT_EQ(t.output, "8080\n");  // the web samples, and nothing but them
  auto lines = audit();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("ended=duration"), std::string::npos) << lines[1];
}

TEST_F(CaptureApiTest, SecondConcurrentCaptureGets429) {
  start(true);
  std::thread first([this] {
    auto res = client().Get("/api/v1/capture?duration=120s&max_packets=5");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
  });
  for (int i = 0; i < 3000 && !tap_.active(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(tap_.active());
  auto second = client().Get("/api/v1/capture?max_packets=1");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 429);
  EXPECT_NE(json::parse(second->body)["error"].get<std::string>().find("already running"), std::string::npos);
  {
    Feeder feeder(tap_);  // lets the first capture reach its 5 packets
    first.join();
  }
  EXPECT_FALSE(tap_.active());
  // And the next one may run.
  Feeder feeder(tap_);
  auto third = client().Get("/api/v1/capture?max_packets=1");
  ASSERT_TRUE(third);
  EXPECT_EQ(third->status, 200);
}

TEST_F(CaptureApiTest, BadParametersAre400WithTheParameter) {
  start(true);
  auto expect = [&](const std::string& q, const std::string& param) {
    auto res = client().Get(("/api/v1/capture?" + q).c_str());
    ASSERT_TRUE(res) << q;
    EXPECT_EQ(res->status, 400) << q << ": " << res->body;
    json j = json::parse(res->body, nullptr, false);
    EXPECT_EQ(j.value("parameter", ""), param) << q << ": " << res->body;
  };
  expect("filter=udp%20prot%2053", "filter");
  expect("filter=tcp&duration=5", "duration");
  expect("duration=0s", "duration");
  expect("duration=3h", "duration");  // above --capture-max-duration
  expect("max_packets=0", "max_packets");
  expect("max_packets=1001", "max_packets");  // above --capture-max-packets
  expect("snaplen=9000", "snaplen");
  EXPECT_FALSE(tap_.active());
}

TEST(CaptureTap, IdleTapTakesNothingAndAFullQueueCountsDrops) {
  capture_api::CaptureTap tap;
  auto pkt = dns_query(100);
  capture::PacketView v;
  v.data = reinterpret_cast<const std::byte*>(pkt.data());
  v.len = v.orig_len = static_cast<std::uint32_t>(pkt.size());
  capture::PacketView batch[1] = {v};
  tap.offer(batch);  // nobody listens: nothing is kept
  auto sub = tap.subscribe(64, 2);
  ASSERT_NE(sub, nullptr);
  EXPECT_EQ(tap.subscribe(64, 2), nullptr);
  capture_api::TappedPacket out[4];
  EXPECT_EQ(sub->pop(out, std::chrono::milliseconds(1)), 0u);
  for (int i = 0; i < 5; ++i) tap.offer(batch);
  EXPECT_EQ(sub->pop(out, std::chrono::milliseconds(1)), 2u);
  EXPECT_EQ(sub->dropped(), 3u);
  EXPECT_EQ(out[0].len, 64u);
  EXPECT_EQ(out[0].orig_len, pkt.size());
  EXPECT_EQ(std::memcmp(out[1].data, pkt.data(), 64), 0);
  sub.reset();
  EXPECT_FALSE(tap.active());
  EXPECT_NE(tap.subscribe(64, 2), nullptr);
}

}  // namespace
}  // namespace netring::agent::api
