#include <gtest/gtest.h>

#include <regex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/log.hpp"

namespace {

namespace log = netring::log;

TEST(Log, LogfmtQuotesOnlyWhatNeedsIt) {
  std::string line =
      log::format(log::Level::kWarn, "watch failed",
                  {{"kind", "pods"}, {"attempt", 3}, {"error", "read timeout \"x\""}, {"empty", ""}, {"ok", false}},
                  log::Format::kLogfmt);
  std::regex re(R"(^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=warn msg="watch failed" kind=pods attempt=3 )"
                R"(error="read timeout \\"x\\"" empty="" ok=false\n$)");
  EXPECT_TRUE(std::regex_match(line, re)) << line;
}

TEST(Log, JsonKeepsTypesAndEscapes) {
  std::string line = log::format(log::Level::kError, "bad\nthing", {{"n", 42}, {"b", true}, {"s", "a\"b"}, {"r", 0.5}},
                                 log::Format::kJson);
  ASSERT_EQ(line.back(), '\n');
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "error");
  EXPECT_EQ(j["msg"], "bad\nthing");
  EXPECT_EQ(j["n"], 42);
  EXPECT_EQ(j["b"], true);
  EXPECT_EQ(j["s"], "a\"b");
  EXPECT_DOUBLE_EQ(j["r"].get<double>(), 0.5);
  EXPECT_EQ(line.find("{\"ts\":"), 0u);
}

TEST(Log, LevelFilter) {
  log::configure(log::Level::kWarn, log::Format::kLogfmt);
  EXPECT_FALSE(log::enabled(log::Level::kDebug));
  EXPECT_FALSE(log::enabled(log::Level::kInfo));
  EXPECT_TRUE(log::enabled(log::Level::kWarn));
  EXPECT_TRUE(log::enabled(log::Level::kError));
  testing::internal::CaptureStderr();
  log::info("hidden");
  log::warn("shown", {{"k", "v"}});
  std::string out = testing::internal::GetCapturedStderr();
  EXPECT_EQ(out.find("hidden"), std::string::npos);
  EXPECT_NE(out.find("level=warn msg=shown k=v\n"), std::string::npos) << out;
  log::configure(log::Level::kInfo, log::Format::kLogfmt);
}

TEST(Log, LinesFromManyThreadsNeverInterleave) {
  log::configure(log::Level::kInfo, log::Format::kJson);
  testing::internal::CaptureStderr();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 200; ++i) log::info("tick", {{"thread", t}, {"i", i}, {"pad", std::string(300, 'x')}});
    });
  }
  for (auto& th : threads) th.join();
  std::string out = testing::internal::GetCapturedStderr();
  log::configure(log::Level::kInfo, log::Format::kLogfmt);
  size_t lines = 0, pos = 0;
  while (pos < out.size()) {
    size_t nl = out.find('\n', pos);
    ASSERT_NE(nl, std::string::npos);
    auto j = nlohmann::json::parse(out.substr(pos, nl - pos));  // throws on a torn line
    EXPECT_EQ(j["msg"], "tick");
    ++lines;
    pos = nl + 1;
  }
  EXPECT_EQ(lines, 800u);
}

}  // namespace
