// What `netring status` says, from the agent's own JSON rendering of its
// status (agent/api/json_views): a field the API renames fails here.
#include <gtest/gtest.h>

#include "agent/api/json_views.hpp"
#include "cli/status_words.hpp"

namespace netring::cli {
namespace {

using agent::AgentStatus;

std::string words_of(const AgentStatus& st) {
  const nlohmann::json ifs = {{"interfaces", nlohmann::json::array()}};
  return status_words(Palette::of(false), "127.0.0.1:9991", agent::api::to_json(st), ifs);
}

AgentStatus base_status() {
  AgentStatus st;
  st.version = "0.1.0";
  st.node = "node-a";
  st.ready = true;
  st.backend = "afxdp";
  return st;
}

TEST(CliStatusWords, IpfixExportOff) {
  const std::string w = words_of(base_status());
  EXPECT_NE(w.find("IPFIX export  off"), std::string::npos) << w;
}

TEST(CliStatusWords, IpfixExportWhereToAndWhatWasLost) {
  AgentStatus st = base_status();
  auto& x = st.flow_export;
  x.enabled = true;
  x.collector = "10.0.0.9:4739";
  x.transport = "tcp";
  x.connected = true;
  x.messages_sent = 12;
  x.records_sent = 340;
  std::string w = words_of(st);
  EXPECT_NE(w.find("to 10.0.0.9:4739 over tcp: 340 records in 12 messages"), std::string::npos) << w;
  EXPECT_EQ(w.find("records lost"), std::string::npos) << w;
  EXPECT_EQ(w.find("NOT connected"), std::string::npos) << w;

  x.connected = false;
  x.records_queue_full = 5;
  x.records_unreachable = 2;
  x.last_error = "connect 10.0.0.9:4739: Connection refused";
  w = words_of(st);
  EXPECT_NE(w.find("over tcp, NOT connected: 340 records"), std::string::npos) << w;
  EXPECT_NE(w.find("7 records lost"), std::string::npos) << w;  // summed over the reasons
  EXPECT_NE(w.find("last error: connect 10.0.0.9:4739: Connection refused"), std::string::npos) << w;
}

TEST(CliStatusWords, ExactFlowsModeInWords) {
  AgentStatus st = base_status();
  auto& x = st.exact_flows;
  x.mode = "bulk";
  x.counted_skbs = 123456;
  x.uncounted = {{"map_full", 3}, {"declined", 40}, {"malformed", 0}};
  x.drains = 77;
  x.flows_last_drain = 12;
  x.last_drain_ns = 1'500'000;
  std::string w = words_of(st);
  EXPECT_NE(w.find("exact flows   bulk: the kernel counts GSO/GRO super-packets exactly"), std::string::npos) << w;
  EXPECT_NE(
      w.find("123k skbs counted in the kernel, 43 it could not count, estimated instead (declined 40, map_full 3)"),
      std::string::npos)
      << w;
  EXPECT_NE(w.find("77 drains of the kernel's map, the last took 1.5 ms for 12 flows"), std::string::npos) << w;
  EXPECT_EQ(w.find("drain errors"), std::string::npos) << w;
  x.drain_errors = 2;
  EXPECT_NE(words_of(st).find("2 drain errors"), std::string::npos);

  x.mode = "all";
  EXPECT_NE(words_of(st).find("all: the kernel counts every packet exactly"), std::string::npos);
  x.mode = "off";
  w = words_of(st);
  EXPECT_NE(w.find("off: every flow count is estimated from samples"), std::string::npos) << w;
  EXPECT_EQ(w.find("skbs counted"), std::string::npos) << w;  // nothing counted to speak of
}

TEST(CliStatusWords, CopyBudgetInWords) {
  AgentStatus st = base_status();
  auto& b = st.copy_budget;
  b.budget = 2000;
  b.unseen_rate = 100;
  std::string w = words_of(st);
  EXPECT_NE(w.find("copy budget   2000 copies a second per CPU; no CPU scaled now"), std::string::npos) << w;
  b.max_scale = 6;
  b.cpus_scaled = 2;
  b.scaled_copies = 4200;
  b.unseen_rate = 600;
  w = words_of(st);
  EXPECT_NE(w.find("now scaling 1:N by up to 6 on 2 CPUs"), std::string::npos) << w;
  EXPECT_NE(w.find("4200 copies drawn at a scaled rate; flows' intervals allow for unseen packets at 1:600"),
            std::string::npos)
      << w;
  b.budget = 0;
  EXPECT_NE(words_of(st).find("off: copies are drawn at a fixed 1:N whatever the load"), std::string::npos);
}

// An agent before --exact-flows has no "exact_flows": no line about it.
TEST(CliStatusWords, AgentsBeforeExactFlowsSayNothingOfIt) {
  nlohmann::json s = agent::api::to_json(base_status());
  s.erase("exact_flows");
  const std::string w =
      status_words(Palette::of(false), "127.0.0.1:9991", s, {{"interfaces", nlohmann::json::array()}});
  EXPECT_EQ(w.find("exact flows"), std::string::npos) << w;
  EXPECT_NE(w.find("IPFIX export"), std::string::npos) << w;
}

}  // namespace
}  // namespace netring::cli
