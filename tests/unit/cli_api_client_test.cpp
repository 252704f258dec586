// The command line's API client against the agent's own API server (real
// listener on loopback, snapshots published by hand): answers, the API's
// 4xx messages, the version check, a port that is not the API, nothing
// listening, and a follow stream stopped from another thread.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "agent/api/api_server.hpp"
#include "cli/api_client.hpp"
#include "cli/command.hpp"

namespace netring::cli {
namespace {

using agent::AgentSnapshot;
using agent::FlowView;

AgentSnapshot snapshot() {
  AgentSnapshot s;
  s.taken_ns = agent::realtime_ns();
  FlowView f;
  f.id = 1;
  f.src = *agent::IpAddress::parse("10.0.0.1");
  f.dst = *agent::IpAddress::parse("10.0.0.2");
  f.protocol = IPPROTO_UDP;
  f.bytes = 100;
  f.packets = 1;
  f.samples = 1;
  f.first_seen_ns = f.last_seen_ns = s.taken_ns;
  s.flows.push_back(f);
  s.status.version = "0.1.0";
  s.status.ready = true;
  return s;
}

bool eventually_zero(const agent::api::ApiServer& s) {
  for (int i = 0; i < 3000 && s.follow_streams() != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return s.follow_streams() == 0;
}

class CliApiClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_.publish(snapshot());
    agent::api::ApiOptions opts;
    opts.listen = {"127.0.0.1", 0};
    opts.follow_keepalive = std::chrono::milliseconds(100);
    server_ = std::make_unique<agent::api::ApiServer>(opts, store_, nullptr);
    ASSERT_TRUE(server_->start().ok());
  }
  ServerAddress address() const { return {"127.0.0.1", server_->port()}; }

  agent::SnapshotStore store_;
  std::unique_ptr<agent::api::ApiServer> server_;
};

TEST_F(CliApiClientTest, JsonAnswers) {
  ApiClient c(address());
  auto r = c.get_json("/api/v1/flows?protocol=udp");
  ASSERT_TRUE(std::holds_alternative<nlohmann::json>(r)) << std::get<ApiFailure>(r).message;
  EXPECT_EQ(std::get<nlohmann::json>(r)["count"], 1);
}

TEST_F(CliApiClientTest, TheApisRejectionIsReportedWithItsMessageAndParameter) {
  ApiClient c(address());
  auto r = c.get_json("/api/v1/flows?protocol=tcpp");
  ASSERT_TRUE(std::holds_alternative<ApiFailure>(r));
  const auto& f = std::get<ApiFailure>(r);
  EXPECT_EQ(f.kind, FailureKind::kBadRequest);
  EXPECT_EQ(f.status, 400);
  EXPECT_EQ(f.parameter, "protocol");
  EXPECT_EQ(f.message, "'tcpp' is not a protocol (tcp, udp, icmp, icmpv6, sctp or 0..255)");
  // As printed: the parameter as the command's option, exit status 2.
  testing::internal::CaptureStderr();
  std::vector<ApiFailure> fs{f};
  EXPECT_EQ(report_failures(fs, {{"protocol", "--protocol"}}), kExitUsage);
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "netring: --protocol: 'tcpp' is not a protocol (tcp, udp, icmp, icmpv6, sctp or 0..255)\n");

  auto nf = c.get_json("/api/v1/dns");
  ASSERT_TRUE(std::holds_alternative<ApiFailure>(nf));
  EXPECT_EQ(std::get<ApiFailure>(nf).kind, FailureKind::kNotFound);
  EXPECT_NE(std::get<ApiFailure>(nf).message.find("does not serve /api/v1/dns"), std::string::npos);
}

TEST(CliApiClient, NothingListeningSaysHowToPortForward) {
  // A port just bound and closed: nothing listens there.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len), 0);
  ::close(fd);
  const int port = ntohs(sa.sin_port);
  ApiClient c({"127.0.0.1", port});
  auto r = c.get_json("/api/v1/status");
  ASSERT_TRUE(std::holds_alternative<ApiFailure>(r));
  const auto& f = std::get<ApiFailure>(r);
  EXPECT_EQ(f.kind, FailureKind::kUnreachable);
  EXPECT_NE(f.message.find("cannot reach the netring API at 127.0.0.1:" + std::to_string(port)), std::string::npos)
      << f.message;
  EXPECT_NE(f.hint.find("kubectl -n netring port-forward ds/netring 9991"), std::string::npos) << f.hint;
  testing::internal::CaptureStderr();
  std::vector<ApiFailure> twice{f, f};
  EXPECT_EQ(report_failures(twice), kExitFailure);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err.find("cannot reach"), err.rfind("cannot reach")) << err;  // said once
  EXPECT_EQ(err.find("port-forward"), err.rfind("port-forward")) << err;
}

// An HTTP server that is not the agent's API (the metrics port, another
// service forwarded by mistake) answers without the version header.
TEST(CliApiClient, AServerThatIsNotTheApi) {
  httplib::Server other;
  other.Get("/api/v1/status", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\": \"ok\"}", "application/json");
  });
  int port = other.bind_to_any_port("127.0.0.1");
  std::thread t([&] { other.listen_after_bind(); });
  while (!other.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ApiClient c({"127.0.0.1", port});
  auto r = c.get_json("/api/v1/status");
  other.stop();
  t.join();
  ASSERT_TRUE(std::holds_alternative<ApiFailure>(r));
  EXPECT_EQ(std::get<ApiFailure>(r).kind, FailureKind::kNotTheApi);
  EXPECT_NE(std::get<ApiFailure>(r).message.find("not as a netring agent's API"), std::string::npos);
}

TEST(CliApiClient, VersionCheck) {
  ServerAddress a{"127.0.0.1", 9991};
  EXPECT_FALSE(check_api_version(a, 200, {{"Netring-Api-Version", "1"}}));
  EXPECT_FALSE(check_api_version(a, 200, {{"Netring-Api-Version", "2, 1"}}));  // an agent serving both
  auto mismatch = check_api_version(a, 200, {{"Netring-Api-Version", "2"}});
  ASSERT_TRUE(mismatch);
  EXPECT_EQ(mismatch->kind, FailureKind::kVersionMismatch);
  EXPECT_NE(mismatch->message.find("API version mismatch: the agent at 127.0.0.1:9991 serves API version 2, this "
                                   "netring"),
            std::string::npos)
      << mismatch->message;
  auto none = check_api_version(a, 404, {{"Content-Type", "text/plain"}});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->kind, FailureKind::kNotTheApi);
  EXPECT_NE(none->message.find("metrics port"), std::string::npos);
}

TEST_F(CliApiClientTest, AFollowStreamStoppedFromAnotherThreadEndsCleanly) {
  ApiClient c(address());
  std::atomic<int> lines{0};
  std::thread stopper;
  auto t0 = std::chrono::steady_clock::now();
  auto failure = c.stream("/api/v1/flows?follow=true", [&](const char* data, std::size_t len) {
    for (std::size_t i = 0; i < len; ++i)
      if (data[i] == '\n') ++lines;
    if (!stopper.joinable()) stopper = std::thread([&] { c.stop(); });
    return true;
  });
  stopper.join();
  EXPECT_FALSE(failure) << failure->message;
  EXPECT_GE(lines.load(), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  EXPECT_TRUE(eventually_zero(*server_));
}

}  // namespace
}  // namespace netring::cli
