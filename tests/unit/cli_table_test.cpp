// Tables that fit a width, and how values read in them.
#include <gtest/gtest.h>

#include <sstream>

#include "cli/dns_table.hpp"
#include "cli/drop_table.hpp"
#include "cli/flow_table.hpp"
#include "cli/format.hpp"
#include "cli/table.hpp"

namespace netring::cli {
namespace {

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST(CliTable, CutsInTheMiddle) {
  EXPECT_EQ(cut_middle("shop/frontend-7d9f8-x2k4p:8080", 12, "~"), "shop/f~:8080");
  EXPECT_EQ(cut_middle("shop/frontend-7d9f8-x2k4p:8080", 20, "~"), "shop/front~2k4p:8080");
  EXPECT_EQ(display_width(cut_middle("shop/frontend-7d9f8-x2k4p:8080", 12, "\u2026")), 12u);
  EXPECT_EQ(cut_middle("short", 12, "~"), "short");
  EXPECT_EQ(cut_middle("abcdef", 1, "~"), "a");
  EXPECT_EQ(display_width("a\u2026b"), 3u);
}

TEST(CliTable, AlignsNumbersRightAndNamesLeft) {
  Table t({{"NAME", false, true}, {"BYTES", true}}, std::nullopt);
  t.add({{"a", ""}, {"1", ""}});
  t.add({{"longer-name", ""}, {"12345", ""}});
  EXPECT_EQ(t.render(),
            "NAME         BYTES\n"
            "a                1\n"
            "longer-name  12345\n");
}

TEST(CliTable, FitsTheWidthByCuttingFlexibleColumnsThenDroppingColumns) {
  std::vector<Column> cols = {{"SOURCE", false, true, 8, 0, 0},
                              {"DESTINATION", false, true, 8, 0, 0},
                              {"PACKETS", true, false, 10, 1, 0},
                              {"FLAGS", false, true, 5, 2, 0}};
  auto make = [&](std::size_t width) {
    Table t(cols, width);
    t.add({{"shop/frontend-7d9f8-x2k4p:40000", ""}, {"shop/cart-5c6d7-abcde:8080", ""}, {"12", ""}, {"SYN,ACK", ""}});
    return t;
  };
  Table wide = make(200);
  auto l = lines(wide.render());
  EXPECT_EQ(l[1], "shop/frontend-7d9f8-x2k4p:40000  shop/cart-5c6d7-abcde:8080       12  SYN,ACK");

  for (std::size_t w : {70u, 50u, 40u}) {
    Table t = make(w);
    for (const auto& line : lines(t.render())) EXPECT_LE(display_width(line), w) << w << ": " << line;
  }
  Table t50 = make(50);
  t50.layout();
  EXPECT_TRUE(t50.shown(3));  // cutting names was enough
  Table t30 = make(30);
  t30.layout();
  EXPECT_FALSE(t30.shown(3));  // FLAGS left out first
  EXPECT_TRUE(t30.shown(2));
  for (const auto& line : lines(t30.render())) EXPECT_LE(display_width(line), 30u) << line;
  Table t25 = make(25);
  t25.layout();
  EXPECT_FALSE(t25.shown(2));  // then PACKETS
  EXPECT_TRUE(t25.shown(0));
  EXPECT_TRUE(t25.shown(1));
  for (const auto& line : lines(t25.render())) EXPECT_LE(display_width(line), 25u) << line;
}

TEST(CliTable, ColourCodesDoNotCountAsWidth) {
  Table t({{"A", false, true}, {"B", true}}, 20, "~", "\033[1m", "\033[0m");
  t.add({{"x", "\033[36m"}, {"1", ""}});
  auto l = lines(t.render());
  EXPECT_EQ(l[0], "\033[1mA\033[0m  \033[1mB\033[0m");
  EXPECT_EQ(l[1], "\033[36mx\033[0m  1");
}

TEST(CliFormat, Values) {
  EXPECT_EQ(bytes_text(999), "999 B");
  EXPECT_EQ(bytes_text(1234567), "1.23 MB");
  EXPECT_EQ(bytes_text(45600), "45.6 kB");
  EXPECT_EQ(bytes_text(999999999999), "1000 GB");
  EXPECT_EQ(count_text(1234.4), "1234");
  EXPECT_EQ(count_text(12345678), "12.3M");
  EXPECT_EQ(duration_text(std::chrono::seconds(3725)), "1h2m5s");
  EXPECT_EQ(duration_text(std::chrono::seconds(42)), "42s");
  EXPECT_EQ(duration_text(std::chrono::seconds(60)), "1m");
  EXPECT_EQ(duration_text(std::chrono::seconds(86400 + 5)), "1d5s");
  EXPECT_EQ(duration_text(std::chrono::seconds(0)), "0s");
  setenv("TZ", "UTC", 1);
  tzset();
  EXPECT_EQ(local_time_text("2026-11-25T12:34:56.789123456Z"), "12:34:56.789");
  EXPECT_EQ(local_time_text("2026-11-25T12:34:56.7Z", true), "Nov 25 12:34:56.700");
  EXPECT_EQ(local_time_text("garbage"), "garbage");
}

TEST(CliFormat, Endpoints) {
  nlohmann::json pod = {{"ip", "10.0.0.1"}, {"port", 8080}, {"namespace", "shop"}, {"pod", "cart-1"}, {"node", "n"}};
  EXPECT_EQ(endpoint_text(pod, "tcp"), "shop/cart-1:8080");
  EXPECT_EQ(endpoint_text(pod, "icmp"), "shop/cart-1");
  nlohmann::json svc = {{"ip", "10.96.0.10"}, {"port", 53}, {"namespace", "kube-system"},
                        {"service", "dns"},   {"pod", ""},  {"node", ""}};
  EXPECT_EQ(endpoint_text(svc, "udp"), "service kube-system/dns:53");
  nlohmann::json host = {{"ip", "fd00::1"}, {"port", 22}, {"pod", ""}, {"node", "node-a"}};
  EXPECT_EQ(endpoint_text(host, "tcp"), "[fd00::1]:22 (host)");
  nlohmann::json world = {{"ip", "1.1.1.1"}, {"port", 443}, {"pod", ""}, {"node", ""}};
  EXPECT_EQ(endpoint_text(world, "tcp"), "1.1.1.1:443 (world)");
  EXPECT_EQ(flow_summary({{"protocol", "tcp"}, {"tcp_flags", {"SYN", "ACK"}}}), "SYN,ACK");
  EXPECT_EQ(flow_summary({{"protocol", "icmp"}, {"icmp", {{"type", 8}, {"code", 0}}}}), "echo-request");
  EXPECT_EQ(flow_summary({{"protocol", "icmpv6"}, {"icmp", {{"type", 1}, {"code", 4}}}}), "unreachable code 4");
  EXPECT_EQ(flow_summary({{"protocol", "udp"}}), "");
}

TEST(CliFlowTable, StreamedLinesKeepTheHeadersColumns) {
  Terminal term;
  term.width = 120;
  FlowTable t(term, Palette::of(false), true);
  const std::string header = t.header();
  nlohmann::json f = nlohmann::json::parse(R"({"last_seen": "2026-11-25T12:34:56.789Z", "protocol": "tcp",
    "direction": "egress", "packets": 3, "bytes": 4500, "tcp_flags": ["SYN"],
    "src": {"ip": "10.0.0.1", "port": 40000, "namespace": "shop", "pod": "frontend-1"},
    "dst": {"ip": "10.0.0.2", "port": 8080, "namespace": "shop", "pod": "cart-1"}})");
  const std::string row = t.line(f);
  EXPECT_LE(display_width(header), 121u);
  EXPECT_EQ(header.find("DESTINATION"), row.find("shop/cart-1:8080"));
  EXPECT_EQ(header.find("PROTO"), row.find("tcp"));
  EXPECT_NE(row.find("4.50 kB"), std::string::npos) << row;
}

// The API's "exact" (agents since --exact-flows) or, before it, a zero
// bytes_stderr says a flow's counts are exact; the table marks the others.
TEST(CliFlowTable, EstimatedCountsAreMarkedExactOnesAreNot) {
  const nlohmann::json base = nlohmann::json::parse(R"({"last_seen": "2026-11-25T12:34:56.789Z",
    "protocol": "tcp", "direction": "egress", "packets": 1200, "bytes": 4500000, "tcp_flags": ["ACK"],
    "src": {"ip": "10.0.0.1", "port": 40000, "namespace": "shop", "pod": "frontend-1"},
    "dst": {"ip": "10.0.0.2", "port": 8080, "namespace": "shop", "pod": "cart-1"}})");
  auto cells = [&](nlohmann::json extra) {
    nlohmann::json f = base;
    f.update(extra);
    Row r = FlowTable::row_of(f, Palette::of(false));
    return std::make_pair(r[5].text, r[6].text);
  };
  EXPECT_EQ(cells({{"exact", true}, {"bytes_stderr", 0}}), std::make_pair(std::string("1200"), std::string("4.50 MB")));
  EXPECT_EQ(cells({{"exact", false}, {"bytes_stderr", 12000.5}}),
            std::make_pair(std::string("~1200"), std::string("~4.50 MB")));
  // "exact" wins over the standard error when both are there.
  EXPECT_EQ(cells({{"exact", false}, {"bytes_stderr", 0}}).second, "~4.50 MB");
  // An agent before "exact": its standard error says.
  EXPECT_EQ(cells({{"bytes_stderr", 3.5}}).second, "~4.50 MB");
  EXPECT_EQ(cells({{"bytes_stderr", 0}}).second, "4.50 MB");
  // Neither: nothing to mark.
  EXPECT_EQ(cells(nlohmann::json::object()).second, "4.50 MB");
}

// The overflow record has no endpoints: the table says what it is.
TEST(CliFlowTable, TheOverflowRecordIsNamed) {
  nlohmann::json f = nlohmann::json::parse(R"({"last_seen": "2026-11-25T12:34:56.789Z", "protocol": "0",
    "direction": "unknown", "packets": 7, "bytes": 900, "exact": true, "overflow": true,
    "src": {"ip": "0.0.0.0", "port": 0, "namespace": "", "pod": "", "node": ""},
    "dst": {"ip": "0.0.0.0", "port": 0, "namespace": "", "pod": "", "node": ""}})");
  Row r = FlowTable::row_of(f, Palette::of(false));
  EXPECT_EQ(r[1].text, "(overflow)");
  EXPECT_EQ(r[2].text, "(flow tables full)");
  f.erase("overflow");
  EXPECT_EQ(FlowTable::row_of(f, Palette::of(false))[1].text, "0.0.0.0 (world)");
}

// A DNS exchange reads as client, server, the name, its answer and latency;
// a timeout and a lone response say what they are.
TEST(CliDnsTable, AnsweredTimedOutAndUnmatched) {
  const nlohmann::json answered = nlohmann::json::parse(R"({"seq": 3, "protocol": "udp", "outcome": "answered",
    "qname": "cart.shop.svc.cluster.local", "qtype": 1, "qtype_name": "A", "rcode": "NXDOMAIN",
    "query_time": "2026-11-25T12:34:56.789Z", "response_time": "2026-11-25T12:34:56.791Z", "latency_ms": 2.345,
    "queries": 2,
    "client": {"ip": "10.0.0.1", "port": 40000, "namespace": "shop", "pod": "frontend-1"},
    "server": {"ip": "10.0.0.53", "port": 53, "namespace": "kube-system", "pod": "coredns-1"}})");
  Row r = dns_row(answered, Palette::of(false));
  ASSERT_EQ(r.size(), 8u);
  EXPECT_EQ(r[1].text, "shop/frontend-1:40000");
  EXPECT_EQ(r[2].text, "kube-system/coredns-1:53");
  EXPECT_EQ(r[3].text, "cart.shop.svc.cluster.local");
  EXPECT_EQ(r[4].text, "A");
  EXPECT_EQ(r[5].text, "NXDOMAIN");
  EXPECT_EQ(r[6].text, "2.35 ms");
  EXPECT_EQ(r[7].text, "2");

  nlohmann::json timeout = answered;
  timeout["outcome"] = "timeout";
  timeout["rcode"] = nullptr;
  timeout["latency_ms"] = nullptr;
  timeout["response_time"] = nullptr;
  timeout.erase("qtype_name");
  timeout["qtype"] = 65;
  timeout["qname"] = "";
  r = dns_row(timeout, Palette::of(false));
  EXPECT_EQ(r[5].text, "timeout");
  EXPECT_EQ(r[6].text, "-");
  EXPECT_EQ(r[4].text, "65");
  EXPECT_EQ(r[3].text, "(not captured)");

  nlohmann::json lone = answered;
  lone["outcome"] = "unmatched_response";
  lone["query_time"] = nullptr;
  lone["latency_ms"] = nullptr;
  r = dns_row(lone, Palette::of(false));
  EXPECT_EQ(r[5].text, "unmatched NXDOMAIN");
  EXPECT_EQ(r[0].text, dns_row(answered, Palette::of(false))[0].text.substr(0, 9) + "791") << "the response's time";
}

TEST(CliDnsTable, LatencyReadsInMillisecondsOrSeconds) {
  EXPECT_EQ(latency_text(0.0412), "0.041 ms");
  EXPECT_EQ(latency_text(2.3456), "2.35 ms");
  EXPECT_EQ(latency_text(250), "250 ms");
  EXPECT_EQ(latency_text(1234.5), "1.23 s");
}

TEST(CliDropTable, ADropWithAndWithoutAnIpHeader) {
  const nlohmann::json d = nlohmann::json::parse(R"({"time": "2026-11-25T12:34:56.789Z", "reason": "NO_SOCKET",
    "bytes": 92, "ifindex": 7, "interface": "veth1", "protocol": "udp",
    "src": {"ip": "10.0.0.1", "port": 40000, "namespace": "shop", "pod": "frontend-1"},
    "dst": {"ip": "10.0.0.2", "port": 9, "namespace": "data", "pod": "redis-1"}})");
  Row r = drop_row(d, Palette::of(false));
  ASSERT_EQ(r.size(), 7u);
  EXPECT_EQ(r[1].text, "shop/frontend-1:40000");
  EXPECT_EQ(r[2].text, "data/redis-1:9");
  EXPECT_EQ(r[3].text, "udp");
  EXPECT_EQ(r[4].text, "NO_SOCKET");
  EXPECT_EQ(r[5].text, "92 B");
  EXPECT_EQ(r[6].text, "veth1");
  const nlohmann::json arp = nlohmann::json::parse(R"({"time": "2026-11-25T12:34:56.789Z",
    "reason": "NOT_SPECIFIED", "bytes": 28, "ifindex": 12, "interface": "", "flow": null})");
  r = drop_row(arp, Palette::of(false));
  EXPECT_EQ(r[1].text, "(no IP header)");
  EXPECT_EQ(r[2].text, "");
  EXPECT_EQ(r[6].text, "#12") << "an interface of another namespace: its index";
}

}  // namespace
}  // namespace netring::cli
