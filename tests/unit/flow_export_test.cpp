// The flow exporter (agent/export) without a collector: records as the
// templates lay them out, deltas that add up to the API's totals, templates
// on schedule, sequence numbers, losses counted, and each --ipfix-* field's
// effect. Messages are read back with tests/testing/ipfix_reader; the real
// collectors (nfdump, pmacct, libfixbuf) are in tests/collector and e2e.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "agent/api/json_views.hpp"
#include "agent/config.hpp"
#include "agent/export/export_options.hpp"
#include "agent/export/flow_exporter.hpp"
#include "agent/export/flow_ledger.hpp"
#include "agent/export/netring_elements.hpp"
#include "agent/metrics/snapshot_collector.hpp"
#include "pkg/common/fd.hpp"
#include "tests/testing/ipfix_reader.hpp"

namespace netring::agent::exporter {
namespace {

using namespace std::chrono_literals;
using testing::IpfixMessage;
using testing::IpfixReader;
using testing::IpfixRecord;
using Clock = FlowExporter::Clock;
namespace ie = ipfix::ie;

// Keeps every message; fails sends or sessions on demand.
class CaptureTransport final : public MessageTransport {
 public:
  struct State {
    std::mutex mu;  // the exporter's thread sends while the test reads
    std::vector<std::vector<std::uint8_t>> sent;
    int fail_sends = 0;  // the next N sends fail
    bool refuse_sessions = false;
    bool connected = false;
    int sessions = 0;
    std::vector<std::size_t> session_starts;  // index in `sent` where each session began
  };
  explicit CaptureTransport(State& s) : s_(s) {}
  Result<bool> open_session() override {
    if (s_.connected) return false;
    if (s_.refuse_sessions) return Error("connect", ECONNREFUSED, "test");
    s_.connected = true;
    ++s_.sessions;
    s_.session_starts.push_back(s_.sent.size());
    return true;
  }
  Result<void> send(std::span<const std::uint8_t> m) override {
    if (s_.fail_sends > 0) {
      --s_.fail_sends;
      return Error("send", ECONNREFUSED, "test");
    }
    std::lock_guard lk(s_.mu);
    s_.sent.emplace_back(m.begin(), m.end());
    return ok();
  }
  bool connected() const override { return s_.connected; }

 private:
  State& s_;
};

AgentSnapshot snapshot_of(std::vector<FlowView> flows) {
  AgentSnapshot s;
  s.flows = std::move(flows);
  return s;
}

FlowView flow(std::uint64_t id, const char* src, const char* dst, double packets, double bytes) {
  FlowView f;
  f.id = id;
  f.src = *IpAddress::parse(src);
  f.dst = *IpAddress::parse(dst);
  f.src_port = 40000;
  f.dst_port = 5201;
  f.protocol = IPPROTO_TCP;
  f.direction = FlowDirection::kEgress;
  f.packets = packets;
  f.bytes = bytes;
  f.samples = static_cast<std::uint64_t>(packets);
  f.tcp_flags = 0x1b;  // FIN SYN PSH ACK
  f.first_seen_ns = 1'700'000'000'123'000'000ull;
  f.start_mono_ns = 123'000'000ull;
  f.last_seen_ns = 1'700'000'004'456'000'000ull;
  f.src_id = Identity{"node-a", "shop", "web", "Deployment", "web-7c9d5-x2k4p", ""};
  f.dst_id = Identity{"node-b", "shop", "db", "StatefulSet", "db-0", "db"};
  f.ingress_ifindex = 7;
  f.egress_ifindex = 9;
  return f;
}

ExportOptions options(Transport t = Transport::kUdp) {
  ExportOptions o;
  o.host = "127.0.0.1";
  o.port = 4739;
  o.transport = t;
  return o;
}

struct Harness {
  CaptureTransport::State state;
  SnapshotStore store;
  std::unique_ptr<FlowExporter> exporter;
  IpfixReader reader;
  std::vector<IpfixMessage> messages;
  std::size_t read_upto = 0;

  explicit Harness(ExportOptions o) {
    exporter = std::make_unique<FlowExporter>(std::move(o), store, std::make_unique<CaptureTransport>(state));
  }
  // Parses the messages sent since the last call.
  std::vector<IpfixMessage> take() {
    std::vector<IpfixMessage> out;
    std::lock_guard lk(state.mu);
    for (; read_upto < state.sent.size(); ++read_upto) {
      auto m = reader.read(state.sent[read_upto]);
      EXPECT_TRUE(m) << reader.error();
      if (m) out.push_back(*m);
    }
    messages.insert(messages.end(), out.begin(), out.end());
    return out;
  }
  static std::vector<IpfixRecord> records(const std::vector<IpfixMessage>& ms) {
    std::vector<IpfixRecord> r;
    for (const auto& m : ms) r.insert(r.end(), m.records.begin(), m.records.end());
    return r;
  }
  void round(const std::vector<FlowView>& live, bool active, Clock::time_point now = Clock::now()) {
    AgentSnapshot snap;
    snap.flows = live;
    exporter->round(snap, active, now);
  }
};

TEST(FlowExport, RecordsCarryEveryElementAsTheTemplatesSay) {
  Harness h(options());
  FlowView v4 = flow(11, "10.0.0.1", "10.0.0.2", 10, 15000);
  FlowView v6 = flow(12, "fd00::1", "fd00::2", 3, 300);
  v6.protocol = IPPROTO_ICMPV6;
  v6.src_port = v6.dst_port = 0;
  v6.icmp_type = 128;
  v6.icmp_code = 0;
  v6.direction = FlowDirection::kIngress;
  v6.end_reason = FlowEndReason::kEvicted;
  h.exporter->enqueue_ended(std::vector<FlowView>{v6});
  h.round({v4}, true);
  auto recs = Harness::records(h.take());
  ASSERT_EQ(recs.size(), 2u);
  // The templates: 256 for IPv4, 257 for IPv6, names under the enterprise number.
  const auto& t4 = h.reader.templates().at(256);
  ASSERT_TRUE(h.reader.templates().count(257));
  std::size_t pen_fields = 0;
  for (const auto& f : t4) pen_fields += f.enterprise == 32473 ? 1 : 0;
  EXPECT_EQ(pen_fields, kNetringElements.size());

  const IpfixRecord& e6 = recs[0];  // ended flows go first
  EXPECT_EQ(e6.template_id, 257);
  EXPECT_EQ(e6.fields.at({0, ie::kSourceIPv6Address.id}),
            std::vector<std::uint8_t>(v6.src.bytes().begin(), v6.src.bytes().end()));
  EXPECT_EQ(e6.u(ie::kIcmpTypeCodeIPv6.id), 128u << 8);
  EXPECT_EQ(e6.u(ie::kFlowEndReason.id), 0x05u);  // evicted: lack of resources
  EXPECT_EQ(e6.u(ie::kFlowDirection.id), 0u);     // ingress
  EXPECT_EQ(e6.u(ie::kOctetDeltaCount.id), 300u);

  const IpfixRecord& r = recs[1];
  EXPECT_EQ(r.template_id, 256);
  EXPECT_EQ(r.u(ie::kFlowId.id), 11u);
  EXPECT_EQ(r.u(ie::kSourceIPv4Address.id), 0x0a000001u);
  EXPECT_EQ(r.u(ie::kDestinationIPv4Address.id), 0x0a000002u);
  EXPECT_EQ(r.u(ie::kSourceTransportPort.id), 40000u);
  EXPECT_EQ(r.u(ie::kDestinationTransportPort.id), 5201u);
  EXPECT_EQ(r.u(ie::kProtocolIdentifier.id), 6u);
  EXPECT_EQ(r.u(ie::kTcpControlBits.id), 0x1bu);
  EXPECT_EQ(r.u(ie::kFlowDirection.id), 1u);     // egress
  EXPECT_EQ(r.u(ie::kFlowEndReason.id), 0x02u);  // periodic export of a live flow
  EXPECT_EQ(r.u(ie::kFlowStartMilliseconds.id), 1'700'000'000'123ull);
  EXPECT_EQ(r.u(ie::kFlowEndMilliseconds.id), 1'700'000'004'456ull);
  EXPECT_EQ(r.u(ie::kOctetDeltaCount.id), 15000u);
  EXPECT_EQ(r.u(ie::kPacketDeltaCount.id), 10u);
  EXPECT_EQ(r.u(ie::kOctetTotalCount.id), 15000u);
  EXPECT_EQ(r.u(ie::kPacketTotalCount.id), 10u);
  EXPECT_EQ(r.u(ie::kIngressInterface.id), 7u);
  EXPECT_EQ(r.u(ie::kEgressInterface.id), 9u);
  EXPECT_TRUE(r.has(ie::kInterfaceName.id));
  EXPECT_EQ(r.f64(ie::kSamplingProbability.id), 1.0);  // bytes_stderr 0: every packet counted
  EXPECT_EQ(r.f64(ie::kLowerCILimit.id), 15000.0);
  EXPECT_EQ(r.f64(ie::kUpperCILimit.id), 15000.0);
  EXPECT_EQ(r.f64(ie::kConfidenceLevel.id), 0.99);
  EXPECT_EQ(r.str(1, 32473), "shop");
  EXPECT_EQ(r.str(2, 32473), "web-7c9d5-x2k4p");
  EXPECT_EQ(r.str(3, 32473), "web");
  EXPECT_EQ(r.str(4, 32473), "Deployment");
  EXPECT_EQ(r.str(5, 32473), "node-a");
  EXPECT_EQ(r.str(7, 32473), "db-0");
  EXPECT_EQ(r.str(9, 32473), "StatefulSet");
  EXPECT_EQ(r.str(11, 32473), "db");
}

TEST(FlowExport, EstimatedFlowsSayHowTheyWereSampledAndHowUncertainTheyAre) {
  Harness h(options());
  FlowView f = flow(1, "10.0.0.1", "10.0.0.2", 400.4, 600'000.6);
  f.samples = 4;            // 1 in ~100
  f.bytes_stderr = 30'000;  // from the estimator
  h.round({f}, true);
  auto recs = Harness::records(h.take());
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].u(ie::kOctetDeltaCount.id), 600'001u);  // rounded
  EXPECT_EQ(recs[0].u(ie::kPacketDeltaCount.id), 400u);
  EXPECT_NEAR(recs[0].f64(ie::kSamplingProbability.id), 4 / 400.4, 1e-12);
  EXPECT_NEAR(recs[0].f64(ie::kLowerCILimit.id), 600'001 - 2.5758293035489004 * 30'000, 1e-6);
  EXPECT_NEAR(recs[0].f64(ie::kUpperCILimit.id), 600'001 + 2.5758293035489004 * 30'000, 1e-6);
}

TEST(FlowExport, DeltasOfAFlowAddUpToItsRoundedTotalAndEndsAreReported) {
  Harness h(options());
  std::uint64_t octets = 0, packets = 0;
  const double totals[] = {100.4, 100.4, 250.5, 999.49};
  for (double t : totals) {
    h.round({flow(5, "10.0.0.1", "10.0.0.2", t / 10, t)}, true);
  }
  FlowView last = flow(5, "10.0.0.1", "10.0.0.2", 1234.6 / 10, 1234.6);
  last.end_reason = FlowEndReason::kIdleTimeout;
  h.exporter->enqueue_ended(std::vector<FlowView>{last});
  h.round({}, true);
  auto recs = Harness::records(h.take());
  ASSERT_EQ(recs.size(), 4u);  // the second round did not grow: no record
  for (const auto& r : recs) {
    octets += r.u(ie::kOctetDeltaCount.id);
    packets += r.u(ie::kPacketDeltaCount.id);
  }
  EXPECT_EQ(octets, 1235u);
  EXPECT_EQ(packets, 123u);
  EXPECT_EQ(recs.back().u(ie::kFlowEndReason.id), 0x01u);  // idle timeout
  EXPECT_EQ(recs.back().u(ie::kOctetTotalCount.id), 1235u);
  // A later flow under the same key (after the first ended) starts again from 0.
  h.round({flow(5, "10.0.0.1", "10.0.0.2", 2, 80)}, true);
  FlowView reused = flow(5, "10.0.0.1", "10.0.0.2", 2, 80);
  reused.first_seen_ns += 60'000'000'000ull;
  reused.start_mono_ns += 60'000'000'000ull;
  h.round({reused}, true);
  auto more = Harness::records(h.take());
  ASSERT_EQ(more.size(), 2u);
  EXPECT_EQ(more[1].u(ie::kOctetDeltaCount.id), 80u);
}

TEST(FlowExport, StopExportsEveryLiveFlowAsForcedEnd) {
  Harness h(options());
  AgentSnapshot snap;
  snap.flows = {flow(1, "10.0.0.1", "10.0.0.2", 1, 100), flow(2, "10.0.0.3", "10.0.0.4", 2, 200)};
  h.store.publish(snap);
  h.exporter->stop();  // never started: stop() still does the last round
  auto recs = Harness::records(h.take());
  ASSERT_EQ(recs.size(), 2u);
  for (const auto& r : recs) EXPECT_EQ(r.u(ie::kFlowEndReason.id), 0x04u);
}

TEST(FlowExport, SequenceNumbersCountDataRecordsBeforeEachMessage) {
  ExportOptions o = options();
  o.max_message_size = 512;  // a few records per message
  Harness h(o);
  std::vector<FlowView> live;
  for (std::uint64_t i = 0; i < 20; ++i) live.push_back(flow(i + 1, "10.0.0.1", "10.0.0.2", 1, 100));
  h.round(live, true);
  h.round({}, false, Clock::now() + 61s);  // a templates-only refresh: moves nothing
  live.clear();
  for (std::uint64_t i = 0; i < 3; ++i) live.push_back(flow(i + 100, "10.0.0.1", "10.0.0.2", 1, 100));
  h.round(live, true, Clock::now() + 62s);
  auto ms = h.take();
  ASSERT_GE(ms.size(), 4u);
  std::uint32_t expect = 0;
  for (const auto& m : ms) {
    EXPECT_EQ(m.sequence, expect);
    EXPECT_EQ(m.domain, 1u);
    EXPECT_LE(m.length, 512u);
    expect += static_cast<std::uint32_t>(m.records.size());
  }
  EXPECT_EQ(expect, 23u);
  EXPECT_EQ(h.exporter->status().records_sent, 23u);
}

// --ipfix-template-refresh (UDP): templates in the first message, then
// again once the period passed.
TEST(FlowExport, TemplateRefreshByTime) {
  ExportOptions o = options();
  o.template_refresh = 10s;
  Harness h(o);
  const auto t0 = Clock::now();
  auto one = [](std::uint64_t id) { return std::vector<FlowView>{flow(id, "10.0.0.1", "10.0.0.2", 1, 100)}; };
  h.round(one(1), true, t0);
  h.round(one(2), true, t0 + 5s);
  h.round(one(3), true, t0 + 11s);
  auto ms = h.take();
  ASSERT_EQ(ms.size(), 3u);
  EXPECT_EQ(ms[0].template_ids.size(), 2u);
  EXPECT_TRUE(ms[1].template_ids.empty());
  EXPECT_EQ(ms[2].template_ids.size(), 2u);
  // With nothing to send, a due refresh goes out on its own.
  h.round({}, false, t0 + 22s);
  auto idle = h.take();
  ASSERT_EQ(idle.size(), 1u);
  EXPECT_TRUE(idle[0].records.empty());
  EXPECT_EQ(idle[0].template_ids.size(), 2u);
}

// --ipfix-template-refresh-messages (UDP): and after so many messages.
TEST(FlowExport, TemplateRefreshByMessages) {
  ExportOptions o = options();
  o.template_refresh = 1h;
  o.template_refresh_messages = 3;
  Harness h(o);
  const auto t0 = Clock::now();
  for (std::uint64_t i = 1; i <= 8; ++i) h.round({flow(i, "10.0.0.1", "10.0.0.2", 1, 100)}, true, t0 + i * 1s);
  auto ms = h.take();
  ASSERT_EQ(ms.size(), 8u);
  std::vector<int> with;
  for (std::size_t i = 0; i < ms.size(); ++i)
    if (!ms[i].template_ids.empty()) with.push_back(static_cast<int>(i));
  EXPECT_EQ(with, (std::vector<int>{0, 4}));  // first, then after 3 without
  EXPECT_EQ(h.exporter->status().template_messages, 2u);
}

// A send that fails (the fake refuses it; on a real socket: no route, no
// buffer) is counted with its records, and the templates go with every
// message until two sends went through.
TEST(FlowExport, SendErrorsAreCountedAndTemplatesGoWithEveryMessageUntilTwoSendsWentThrough) {
  ExportOptions o = options();
  o.template_refresh = 1h;
  Harness h(o);
  const auto t0 = Clock::now();
  auto one = [](std::uint64_t id) { return std::vector<FlowView>{flow(id, "10.0.0.1", "10.0.0.2", 1, 100)}; };
  h.round(one(1), true, t0);
  h.state.fail_sends = 1;  // ECONNREFUSED: the collector went away
  h.round(one(2), true, t0 + 1s);
  h.round(one(3), true, t0 + 2s);
  h.round(one(4), true, t0 + 3s);
  h.round(one(5), true, t0 + 4s);
  auto ms = h.take();
  ASSERT_EQ(ms.size(), 4u);  // message 2 never went out
  EXPECT_FALSE(ms[1].template_ids.empty());
  EXPECT_FALSE(ms[2].template_ids.empty());
  EXPECT_TRUE(ms[3].template_ids.empty());
  EXPECT_EQ(ms[1].sequence, 2u);  // the lost record is a gap the collector sees
  const FlowExportStatus st = h.exporter->status();
  EXPECT_EQ(st.send_errors, 1u);
  EXPECT_EQ(st.records_send_failed, 1u);
  EXPECT_EQ(st.records_sent, 4u);
  EXPECT_NE(st.last_error.find("Connection refused"), std::string::npos) << st.last_error;
}

// --ipfix-transport=tcp: templates at the start of every connection, and
// only there; a broken connection is counted and re-established.
TEST(FlowExport, TcpTemplatesOncePerConnectionAndReconnectsCounted) {
  Harness h(options(Transport::kTcp));
  const auto t0 = Clock::now();
  auto one = [](std::uint64_t id) { return std::vector<FlowView>{flow(id, "10.0.0.1", "10.0.0.2", 1, 100)}; };
  h.round(one(1), true, t0);
  h.round(one(2), true, t0 + 120s);  // no time-based refresh on TCP
  h.state.connected = false;         // the collector closed the connection
  h.round(one(3), true, t0 + 121s);
  auto ms = h.take();
  ASSERT_EQ(ms.size(), 5u);
  ASSERT_EQ(h.state.session_starts, (std::vector<std::size_t>{0, 3}));
  EXPECT_TRUE(ms[0].records.empty());
  EXPECT_EQ(ms[0].template_ids.size(), 2u);  // a connection starts with the templates
  EXPECT_TRUE(ms[1].template_ids.empty());
  EXPECT_TRUE(ms[2].template_ids.empty());
  EXPECT_EQ(ms[3].template_ids.size(), 2u);
  EXPECT_EQ(ms[4].records.size(), 1u);
  EXPECT_EQ(h.exporter->status().connects, 2u);
  EXPECT_EQ(h.exporter->status().reconnects, 1u);
  // Refused: the message is counted lost, nothing is sent.
  h.state.connected = false;
  h.state.refuse_sessions = true;
  h.round(one(4), true, t0 + 122s);
  EXPECT_TRUE(h.take().empty());
  EXPECT_EQ(h.exporter->status().records_send_failed, 1u);
  EXPECT_FALSE(h.exporter->status().connected);
}

// --ipfix-queue-size: ended flows beyond it are dropped and counted.
TEST(FlowExport, QueueSizeBoundsEndedFlowsAndCountsDrops) {
  ExportOptions o = options();
  o.queue_size = 3;
  Harness h(o);
  std::vector<FlowView> ended;
  for (std::uint64_t i = 0; i < 5; ++i) ended.push_back(flow(i + 1, "10.0.0.1", "10.0.0.2", 1, 100));
  h.exporter->enqueue_ended(ended);
  h.round({}, false);
  EXPECT_EQ(Harness::records(h.take()).size(), 3u);
  EXPECT_EQ(h.exporter->status().records_queue_full, 2u);
}

// --ipfix-max-message-size: records spread over messages, none torn.
TEST(FlowExport, MaxMessageSizeBoundsEveryMessage) {
  for (std::size_t size : {512u, 1400u, 9000u}) {
    ExportOptions o = options();
    o.max_message_size = size;
    Harness h(o);
    std::vector<FlowView> live;
    for (std::uint64_t i = 0; i < 200; ++i) live.push_back(flow(i + 1, "10.0.0.1", "10.0.0.2", 1, 100));
    h.round(live, true);
    auto ms = h.take();
    std::size_t recs = 0;
    for (const auto& m : ms) {
      EXPECT_LE(m.length, size);
      recs += m.records.size();
    }
    EXPECT_EQ(recs, 200u);
    // Every record here has the same size: each message but the last was full.
    const auto& last = ms.back();
    ASSERT_TRUE(last.template_ids.empty());
    const std::size_t record = (last.length - 16 - 4) / last.records.size();
    for (std::size_t i = 0; i + 1 < ms.size(); ++i) EXPECT_GT(ms[i].length + record, size) << "message " << i;
  }
  // A record larger than a whole message is counted, not sent torn.
  ExportOptions o = options();
  o.max_message_size = 512;
  Harness h(o);
  FlowView big = flow(1, "10.0.0.1", "10.0.0.2", 1, 100);
  big.src_id = Identity{"n", std::string(400, 'x'), "w", "Pod", "p", ""};
  h.round({big}, true);
  h.take();
  EXPECT_EQ(h.exporter->status().records_too_large, 1u);
}

ConfigOutcome parse(std::vector<std::string> args) {
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  return parse_config(
      std::span<const char* const>(argv.data(), argv.size()), [](const std::string&) { return std::nullopt; },
      "host-a");
}

// --ipfix-observation-domain, --ipfix-enterprise-number and --ipfix-fields
// from the command line to the bytes.
TEST(FlowExport, DomainEnterpriseNumberAndFieldsFromTheConfiguration) {
  auto c = parse({"--ipfix-collector=127.0.0.1:4739", "--ipfix-observation-domain=77",
                  "--ipfix-enterprise-number=65000", "--ipfix-fields=kubernetes"});
  ASSERT_EQ(c.exit_code, -1) << c.err;
  Harness h(options_from(c.config));
  h.round({flow(1, "10.0.0.1", "10.0.0.2", 1, 100)}, true);
  auto ms = h.take();
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_EQ(ms[0].domain, 77u);
  const IpfixRecord& r = ms[0].records.at(0);
  EXPECT_EQ(r.str(2, 65000), "web-7c9d5-x2k4p");
  EXPECT_FALSE(r.has(2, 32473));
  EXPECT_FALSE(r.has(ie::kOctetTotalCount.id));
  EXPECT_FALSE(r.has(ie::kIngressInterface.id));
  EXPECT_FALSE(r.has(ie::kInterfaceName.id));
  EXPECT_FALSE(r.has(ie::kLowerCILimit.id));
  EXPECT_TRUE(r.has(ie::kSamplingProbability.id));  // always: says whether the counts are exact
  EXPECT_TRUE(r.has(ie::kOctetDeltaCount.id));

  auto bare = parse({"--ipfix-collector=127.0.0.1:4739", "--ipfix-fields="});
  ASSERT_EQ(bare.exit_code, -1);
  Harness hb(options_from(bare.config));
  hb.round({flow(1, "10.0.0.1", "10.0.0.2", 1, 100)}, true);
  auto mb = hb.take();
  ASSERT_EQ(mb.size(), 1u);
  EXPECT_EQ(mb[0].records.at(0).fields.size(), 15u);  // the fixed core only
  EXPECT_EQ(mb[0].domain, 1u);                        // the default
}

// --ipfix-active-interval: live flows go out while they live; with 0s only
// when they end.
TEST(FlowExport, ActiveIntervalExportsLiveFlowsPeriodically) {
  for (auto interval : {200ms, 0ms}) {
    auto c = parse(
        {"--ipfix-collector=127.0.0.1:4739", "--ipfix-active-interval=" + std::to_string(interval.count()) + "ms"});
    ASSERT_EQ(c.exit_code, -1) << c.err;
    Harness h(options_from(c.config));
    h.exporter->start();
    double bytes = 100;
    const auto until = Clock::now() + 1500ms;
    while (Clock::now() < until) {
      AgentSnapshot snap;
      snap.flows = {flow(1, "10.0.0.1", "10.0.0.2", bytes / 100, bytes)};
      h.store.publish(snap);
      bytes += 100;
      std::this_thread::sleep_for(50ms);
    }
    const std::size_t while_running = Harness::records(h.take()).size();
    h.exporter->stop();
    const std::size_t at_stop = Harness::records(h.take()).size();
    if (interval.count() > 0) {
      EXPECT_GE(while_running, 3u) << "records every ~200 ms over 1.5 s";
    } else {
      EXPECT_EQ(while_running, 0u);
    }
    EXPECT_EQ(at_stop, 1u);  // the forced end
  }
}

// A real UDP socket: datagrams reach a receiver on loopback; with nobody
// listening the host answers port unreachable, which the kernel reports on
// the next send: every record sent meanwhile is counted, and a receiver
// that comes back on the port gets the next message, templates first.
TEST(FlowExport, UdpToLoopbackAndWhatNobodyReadIsCounted) {
  auto bind_rx = [](std::uint16_t port) {
    UniqueFd fd(::socket(AF_INET, SOCK_DGRAM, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
    return std::make_pair(std::move(fd), ntohs(a.sin_port));
  };
  auto receive = [](int fd, IpfixReader& reader) -> std::optional<IpfixMessage> {
    std::uint8_t buf[65536];
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) != 1) return std::nullopt;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    return reader.read(std::span<const std::uint8_t>(buf, static_cast<std::size_t>(n)));
  };
  auto [rx, port] = bind_rx(0);
  ExportOptions o = options();
  o.port = port;
  o.template_refresh = 1h;
  SnapshotStore store;
  FlowExporter ex(o, store);
  auto send_one = [&ex](std::uint64_t id) {
    ex.round(snapshot_of({flow(id, "10.0.0.1", "10.0.0.2", 1, 100)}), true, Clock::now());
  };
  send_one(1);
  IpfixReader reader;
  auto m = receive(rx.get(), reader);
  ASSERT_TRUE(m) << reader.error();
  EXPECT_EQ(m->records.size(), 1u);
  EXPECT_TRUE(ex.status().connected);
  rx.reset();  // the collector stops
  for (std::uint64_t i = 2; i <= 7; ++i) send_one(i);
  FlowExportStatus st = ex.status();
  EXPECT_EQ(st.records_unreachable, 5u);  // the 6th one's answer is reported by the next send
  EXPECT_EQ(st.send_errors, 0u);
  auto [rx2, port2] = bind_rx(port);  // it comes back on the same port
  ASSERT_EQ(port2, port);
  send_one(8);
  IpfixReader fresh;  // a restarted collector knows no templates
  auto back = receive(rx2.get(), fresh);
  ASSERT_TRUE(back) << fresh.error();
  EXPECT_EQ(back->template_ids.size(), 2u);
  ASSERT_EQ(back->records.size(), 1u);
  EXPECT_EQ(back->records[0].u(ie::kFlowId.id), 8u);
  EXPECT_EQ(back->sequence, 7u);  // the gap says what it missed
  st = ex.status();
  EXPECT_EQ(st.records_unreachable, 6u);
  EXPECT_EQ(st.records_sent, 8u);
}

// A real TCP listener: the stream starts with the templates; when the
// collector drops the connection, the exporter reconnects and starts the
// new one with the templates again.
TEST(FlowExport, TcpToLoopbackReconnectsWithTemplatesFirst) {
  UniqueFd lst(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lst.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(lst.get(), 4), 0);
  socklen_t len = sizeof a;
  ::getsockname(lst.get(), reinterpret_cast<sockaddr*>(&a), &len);
  auto c = parse({"--ipfix-collector=127.0.0.1:" + std::to_string(ntohs(a.sin_port)), "--ipfix-transport=tcp"});
  ASSERT_EQ(c.exit_code, -1) << c.err;
  SnapshotStore store;
  FlowExporter ex(options_from(c.config), store);
  auto read_stream = [](int fd, std::size_t want_messages) {
    std::vector<std::uint8_t> data;
    std::vector<IpfixMessage> out;
    IpfixReader reader;
    std::uint8_t buf[65536];
    const auto deadline = Clock::now() + 3s;
    while (out.size() < want_messages && Clock::now() < deadline) {
      pollfd p{fd, POLLIN, 100};
      if (::poll(&p, 1, 100) != 1) continue;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      data.insert(data.end(), buf, buf + n);
      while (data.size() >= 4) {
        const std::size_t mlen = static_cast<std::size_t>(data[2] << 8 | data[3]);
        if (data.size() < mlen) break;
        auto m = reader.read(std::span<const std::uint8_t>(data.data(), mlen));
        EXPECT_TRUE(m) << reader.error();
        if (m) out.push_back(*m);
        data.erase(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(mlen));
      }
    }
    return out;
  };
  ex.round(snapshot_of({flow(1, "10.0.0.1", "10.0.0.2", 1, 100)}), true, Clock::now());
  UniqueFd conn(::accept(lst.get(), nullptr, nullptr));
  auto first = read_stream(conn.get(), 2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].template_ids.size(), 2u);
  EXPECT_EQ(first[1].records.size(), 1u);
  conn.reset();                        // the collector goes away
  std::this_thread::sleep_for(300ms);  // past the reconnection backoff
  ex.round(snapshot_of({flow(2, "10.0.0.1", "10.0.0.2", 1, 100)}), true, Clock::now());
  UniqueFd conn2(::accept(lst.get(), nullptr, nullptr));
  auto second = read_stream(conn2.get(), 2);  // read by a reader that knows no templates yet
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0].template_ids.size(), 2u);
  EXPECT_EQ(second[1].records.size(), 1u);
  EXPECT_EQ(ex.status().reconnects, 1u);
  EXPECT_EQ(ex.status().records_sent, 2u);
}

TEST(FlowExport, StatusInTheApiAndInMetrics) {
  Harness h(options());
  h.round({flow(1, "10.0.0.1", "10.0.0.2", 1, 100)}, true);
  AgentSnapshot snap;
  h.exporter->fill_status(snap.status);
  auto j = api::to_json(snap.status);
  EXPECT_EQ(j["flow_export"]["enabled"], true);
  EXPECT_EQ(j["flow_export"]["collector"], "127.0.0.1:4739");
  EXPECT_EQ(j["flow_export"]["records"], 1);
  EXPECT_EQ(j["flow_export"]["records_lost"]["queue_full"], 0);
  EXPECT_EQ(j["flow_export"]["records_lost"]["unreachable"], 0);
  SnapshotStore store;
  store.publish(snap);
  metrics::SnapshotCollector col(store);
  bool found = false;
  for (const auto& fam : col.Collect())
    if (fam.name == "netring_flow_export_records_total") found = fam.metric.at(0).counter.value == 1;
  EXPECT_TRUE(found);
  AgentStatus off;
  EXPECT_EQ(api::to_json(off)["flow_export"], nlohmann::json({{"enabled", false}}));
}

}  // namespace
}  // namespace netring::agent::exporter
