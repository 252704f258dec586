// The flow exporter against the collectors people run, all from Debian and
// none written here: nfdump's nfcapd (read back with `nfdump -o json`),
// pmacct's nfacctd (print plugin, JSON; netring's names through
// aggregate_primitives), and libfixbuf's ipfixDump reading what socat
// received over TCP. The exporter is fed synthetic flows (exact ones, and
// estimates with fractional totals) straight from its API; e2e/ipfix_export.sh
// does the same with the real agent and real traffic.
//
// Checked: per flow, the collector's octets and packets equal the flow's
// rounded totals (what the API shows); templates and sequence numbers are
// accepted without error (nfdump's sequence-failure count, nfacctd's
// sequence log lines, ipfixDump's warnings); a collector restart loses only
// what was sent while it was down, and netring counts exactly that.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "agent/export/flow_exporter.hpp"

namespace netring::agent::exporter {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = FlowExporter::Clock;
using json = nlohmann::json;

// A child process with its output in a file; SIGTERM and reaped on stop().
class Child {
 public:
  Child(std::vector<std::string> argv, const fs::path& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);  // its own group: nfacctd forks plugin processes
      std::FILE* f = std::fopen(log.c_str(), "a");
      if (f) {
        ::dup2(fileno(f), 1);
        ::dup2(fileno(f), 2);
      }
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      std::_Exit(127);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { stop(); }
  // `sig` to the group; SIGKILL if it is not gone within 10 s.
  int stop(int sig = SIGTERM) {
    if (pid_ <= 0) return -1;
    ::kill(-pid_, sig);
    int status = 0;
    for (int i = 0; i < 200 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (::waitpid(pid_, &status, WNOHANG) == 0) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
    ::kill(-pid_, SIGKILL);  // plugin processes left behind
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
};

std::string run(const std::string& cmd) {
  std::string out;
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool have(const char* tool) {
  return !run(std::string("command -v ") + tool).empty();
}

std::uint16_t free_port(int type) {
  int fd = ::socket(AF_INET, type, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Is something bound to this UDP (or listening on this TCP) port on loopback?
bool bound(std::uint16_t port, bool tcp) {
  std::ifstream in(tcp ? "/proc/net/tcp" : "/proc/net/udp");
  std::string line;
  char hex[8];
  std::snprintf(hex, sizeof hex, ":%04X", port);
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string sl, local, remote, state;
    ls >> sl >> local >> remote >> state;
    if (local.size() > 5 && local.substr(local.size() - 5) == hex && (!tcp || state == "0A")) return true;
  }
  return false;
}

template <class F>
bool eventually(F&& f, std::chrono::milliseconds timeout = 10s) {
  const auto until = Clock::now() + timeout;
  while (Clock::now() < until) {
    if (f()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return f();
}

struct Tmp {
  fs::path dir;
  Tmp() {
    char t[] = "/tmp/netring-collector-XXXXXX";
    dir = ::mkdtemp(t);
  }
  ~Tmp() {
    if (!::testing::Test::HasFailure()) fs::remove_all(dir);
  }
};

AgentSnapshot snapshot_of(std::vector<FlowView> flows) {
  AgentSnapshot s;
  s.flows = std::move(flows);
  return s;
}

FlowView flow(std::uint64_t id, const char* src, const char* dst, std::uint8_t proto, std::uint16_t sport,
              std::uint16_t dport, const char* src_pod, const char* dst_pod) {
  FlowView f;
  f.id = id;
  f.src = *IpAddress::parse(src);
  f.dst = *IpAddress::parse(dst);
  f.protocol = proto;
  if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
    f.icmp_type = 8;
  } else {
    f.src_port = sport;
    f.dst_port = dport;
  }
  f.direction = FlowDirection::kEgress;
  f.tcp_flags = proto == IPPROTO_TCP ? 0x1b : 0;
  f.first_seen_ns = static_cast<std::uint64_t>(realtime_ns() - 5'000'000'000ull);
  f.start_mono_ns = 5;
  f.last_seen_ns = realtime_ns();
  f.src_id = Identity{"node-a", "shop", std::string(src_pod).substr(0, 3), "Deployment", src_pod, ""};
  f.dst_id = Identity{"node-b", "store", std::string(dst_pod).substr(0, 2), "StatefulSet", dst_pod, ""};
  f.ingress_ifindex = 1;  // lo: a name every machine has
  return f;
}

void grow(FlowView& f, double packets, double bytes, bool exact) {
  f.packets += packets;
  f.bytes += bytes;
  f.samples += exact ? static_cast<std::uint64_t>(packets) : static_cast<std::uint64_t>(packets / 100);
  f.bytes_stderr = exact ? 0 : std::sqrt(f.bytes) * 40;
  f.last_seen_ns = realtime_ns();
}

// What a collector should end up with per flow: the rounded totals.
struct Truth {
  std::uint64_t bytes = 0, packets = 0;
};
using Key = std::tuple<std::string, std::string, int, int, int>;  // src, dst, sport, dport, proto

Key key_of(const FlowView& f) {
  return {f.src.str(), f.dst.str(), f.src_port, f.dst_port, f.protocol};
}

// Four flows (IPv4 and IPv6, TCP, UDP, ICMP; exact and estimated) exported
// over several active rounds; two end in between (idle timeout, eviction),
// the rest at stop (forced end).
struct Scenario {
  std::vector<FlowView> live;
  std::map<Key, Truth> truth;

  Scenario() {
    live.push_back(flow(1, "10.1.0.1", "10.2.0.1", IPPROTO_TCP, 40001, 5201, "web-7c9d5-x2k4p", "db-0"));
    live.push_back(flow(2, "10.1.0.2", "10.2.0.2", IPPROTO_UDP, 40002, 53, "api-6b8f4-q9z7m", "dns-1"));
    live.push_back(flow(3, "fd00::1:1", "fd00::2:1", IPPROTO_TCP, 40003, 443, "web-7c9d5-a1b2c", "cache-0"));
    live.push_back(flow(4, "10.1.0.4", "10.2.0.4", IPPROTO_ICMP, 0, 0, "job-5d4c3-w1x2y", "db-1"));
  }
  void step(int i) {
    grow(live[0], 1000, 1'448'000, true);
    grow(live[1], 123.4, 12'345.6 + i, false);
    grow(live[2], 77.7, 987'654.3, false);
    grow(live[3], 1, 84, true);
  }
  void record(const FlowView& f) {
    truth[key_of(f)] = {static_cast<std::uint64_t>(std::llround(f.bytes)),
                        static_cast<std::uint64_t>(std::llround(f.packets))};
  }
  // Drives the exporter; returns the snapshot the final round must see.
  void drive(FlowExporter& ex, SnapshotStore& store) {
    for (int i = 0; i < 3; ++i) {
      step(i);
      ex.round(snapshot_of(live), true, Clock::now());
    }
    // Flow 2 ends (idle), flow 4 is evicted; the others go on.
    step(3);
    live[1].end_reason = FlowEndReason::kIdleTimeout;
    live[3].end_reason = FlowEndReason::kEvicted;
    ex.enqueue_ended(std::vector<FlowView>{live[1], live[3]});
    record(live[1]);
    record(live[3]);
    live.erase(live.begin() + 3);
    live.erase(live.begin() + 1);
    ex.round(snapshot_of(live), true, Clock::now());
    step2();
    for (const auto& f : live) record(f);
    store.publish(snapshot_of(live));
  }
  void step2() {
    grow(live[0], 500, 724'000, true);
    grow(live[1], 10.5, 100'000.25, false);
  }
};

std::map<Key, Truth> sum_by_key(const std::vector<std::tuple<Key, std::uint64_t, std::uint64_t>>& rows) {
  std::map<Key, Truth> out;
  for (const auto& [k, b, p] : rows) {
    out[k].bytes += b;
    out[k].packets += p;
  }
  return out;
}

std::string canonical(const std::string& ip) {
  auto a = IpAddress::parse(ip);
  return a ? a->str() : ip;
}

// --- nfdump -----------------------------------------------------------------

struct Nfcapd {
  fs::path base, log;
  std::uint16_t port;
  std::vector<fs::path> runs;  // one directory per start: nfcapd names its files by time slot
  std::unique_ptr<Child> proc;
  Nfcapd(const fs::path& b, std::uint16_t p) : base(b), log(b / "nfcapd.log"), port(p) {}
  void start() {
    runs.push_back(base / ("nfcapd-run" + std::to_string(runs.size() + 1)));
    fs::create_directories(runs.back());
    proc = std::make_unique<Child>(std::vector<std::string>{"nfcapd", "-b", "127.0.0.1", "-p", std::to_string(port),
                                                            "-w", runs.back().string(), "-t", "3600", "-I", "netring"},
                                   log);
    ASSERT_TRUE(eventually([&] { return bound(port, false); })) << slurp(log);
  }
  // SIGTERM: nfcapd writes out its file and exits.
  void stop() {
    std::this_thread::sleep_for(300ms);  // let it read what is in its socket
    proc->stop();
  }
  // (key, bytes, packets) per record, from `nfdump -o json`.
  std::vector<std::tuple<Key, std::uint64_t, std::uint64_t>> records() const {
    std::vector<std::tuple<Key, std::uint64_t, std::uint64_t>> rows;
    for (const auto& dir : runs) {
      // -q drops the summary and, in 1.7.1, the array's brackets too.
      auto out = run("nfdump -N -q -R " + dir.string() + " -o json 2>&1");
      json j = json::parse(out.empty() || out[0] == '[' ? out : "[" + out + "]", nullptr, false);
      EXPECT_FALSE(j.is_discarded()) << out;
      if (j.is_discarded()) continue;
      for (const auto& r : j) {
        const std::string src = r.contains("src4_addr") ? r["src4_addr"].get<std::string>() : r.value("src6_addr", "");
        const std::string dst = r.contains("dst4_addr") ? r["dst4_addr"].get<std::string>() : r.value("dst6_addr", "");
        const int proto = r.value("proto", 0);
        const bool icmp = proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6;
        rows.emplace_back(Key{canonical(src), canonical(dst), icmp ? 0 : r.value("src_port", 0),
                              icmp ? 0 : r.value("dst_port", 0), proto},
                          r.value("in_bytes", std::uint64_t{0}), r.value("in_packets", std::uint64_t{0}));
      }
    }
    return rows;
  }
  // nfdump's own count of sequence failures in the files (-1: not reported).
  long sequence_failures() const {
    long total = 0;
    for (const auto& dir : runs) {
      auto out = run("nfdump -R " + dir.string() + " -I 2>&1");
      std::istringstream in(out);
      std::string line;
      bool found = false;
      while (std::getline(in, line))
        if (line.rfind("Sequence failures", 0) == 0) {
          total += std::stol(line.substr(line.find(':') + 1));
          found = true;
        }
      if (!found) {
        ADD_FAILURE() << "nfdump -I says no sequence failure count:\n" << out;
        return -1;
      }
    }
    return total;
  }
};

ExportOptions udp_to(std::uint16_t port) {
  ExportOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.active_interval = 1s;
  return o;
}

TEST(IpfixCollectors, NfdumpCountsEveryFlowLikeTheApiWithoutSequenceFailures) {
  if (!have("nfcapd") || !have("nfdump")) GTEST_FAIL() << "nfdump missing: scripts/deps.sh installs it";
  Tmp tmp;
  Nfcapd nf(tmp.dir, free_port(SOCK_DGRAM));
  ASSERT_NO_FATAL_FAILURE(nf.start());
  SnapshotStore store;
  ExportOptions o = udp_to(nf.port);
  o.max_message_size = 600;  // many messages, so sequence numbers are checked across them
  FlowExporter ex(o, store);
  Scenario sc;
  sc.drive(ex, store);
  ex.stop();
  nf.stop();
  auto got = sum_by_key(nf.records());
  EXPECT_EQ(got.size(), sc.truth.size());
  for (const auto& [k, t] : sc.truth) {
    ASSERT_TRUE(got.count(k)) << std::get<0>(k) << " -> " << std::get<1>(k) << " missing";
    EXPECT_EQ(got[k].bytes, t.bytes) << std::get<0>(k);
    EXPECT_EQ(got[k].packets, t.packets) << std::get<0>(k);
  }
  EXPECT_EQ(nf.sequence_failures(), 0);
  const auto st = ex.status();
  EXPECT_GT(st.messages_sent, 5u);
  EXPECT_EQ(st.send_errors, 0u);
  // nfcapd's own summary at exit, and no other complaint in its log.
  const std::string log = slurp(nf.log);
  EXPECT_NE(log.find("Sequence Errors: 0, Bad Packets: 0"), std::string::npos) << log;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);)
    if (line.find("Sequence Errors:") == std::string::npos) {
      EXPECT_EQ(line.find("rror"), std::string::npos) << line;
    }
}

// --- pmacct -----------------------------------------------------------------

struct Nfacctd {
  fs::path base, out, log;
  std::uint16_t port;
  std::unique_ptr<Child> proc;
  Nfacctd(const fs::path& b, std::uint16_t p, std::uint32_t pen)
      : base(b), out(b / "nfacctd.json"), log(b / "nfacctd.log"), port(p) {
    std::ofstream prim(base / "primitives.lst");
    const char* names[] = {"src_ns",  "src_pod",      "src_workload", "src_kind", "src_node",   "dst_ns",
                           "dst_pod", "dst_workload", "dst_kind",     "dst_node", "dst_service"};
    for (int i = 0; i < 11; ++i)
      prim << "name=" << names[i] << " field_type=" << pen << ":" << (i + 1) << " len=vlen semantics=str\n";
    std::ofstream conf(base / "nfacctd.conf");
    conf << "daemonize: false\n"
         << "nfacctd_ip: 127.0.0.1\nnfacctd_port: " << port << "\n"
         << "nfacctd_disable_checks: false\n"  // sequence checks on (pmacct's default is off)
         << "logfile: " << log.string() << "\n"
         << "aggregate_primitives: " << (base / "primitives.lst").string() << "\n"
         << "plugins: print[flows]\n"
         << "aggregate[flows]: src_host, dst_host, src_port, dst_port, proto, src_ns, src_pod, src_workload, dst_ns, "
            "dst_pod, dst_workload\n"
         << "print_output[flows]: json\nprint_output_file[flows]: " << out.string() << "\n"
         << "print_output_file_append[flows]: true\nprint_refresh_time[flows]: 1\n";
  }
  void start() {
    proc = std::make_unique<Child>(std::vector<std::string>{"nfacctd", "-f", (base / "nfacctd.conf").string()},
                                   base / "nfacctd.stdout");
    ASSERT_TRUE(eventually([&] { return bound(port, false); })) << slurp(log) << slurp(base / "nfacctd.stdout");
    // The core takes datagrams before the print plugin runs, and what it
    // hands over then is not accounted: wait for the plugin's first purge.
    ASSERT_TRUE(eventually([&] { return purges() > 0; }, 20s)) << slurp(log);
  }
  std::size_t purges() const {
    const std::string l = slurp(log);
    std::size_t n = 0;
    for (auto pos = l.find("Purging cache - END"); pos != std::string::npos;
         pos = l.find("Purging cache - END", pos + 1))
      ++n;
    return n;
  }
  void stop() {
    const std::size_t seen = purges();
    EXPECT_TRUE(eventually([&] { return purges() >= seen + 2; }, 20s));  // everything sent is purged to the file
    proc->stop(SIGKILL);  // its core does not exit on SIGTERM while its plugins run; the file is written
  }
  std::vector<json> lines() const {
    std::vector<json> v;
    std::istringstream in(slurp(out));
    std::string line;
    while (std::getline(in, line)) {
      json j = json::parse(line, nullptr, false);
      if (!j.is_discarded()) v.push_back(j);
    }
    return v;
  }
};

TEST(IpfixCollectors, PmacctCountsEveryFlowLikeTheApiAndReadsTheNamesAsStrings) {
  if (!have("nfacctd")) GTEST_FAIL() << "pmacct missing: scripts/deps.sh installs it";
  Tmp tmp;
  Nfacctd pm(tmp.dir, free_port(SOCK_DGRAM), 32473);
  ASSERT_NO_FATAL_FAILURE(pm.start());
  SnapshotStore store;
  ExportOptions o = udp_to(pm.port);
  o.max_message_size = 600;
  FlowExporter ex(o, store);
  Scenario sc;
  sc.drive(ex, store);
  ex.stop();
  pm.stop();
  std::vector<std::tuple<Key, std::uint64_t, std::uint64_t>> rows;
  std::map<Key, json> names;
  for (const auto& l : pm.lines()) {
    const int proto = l.value("ip_proto", "") == "tcp"    ? 6
                      : l.value("ip_proto", "") == "udp"  ? 17
                      : l.value("ip_proto", "") == "icmp" ? 1
                                                          : -1;
    Key k{canonical(l.value("ip_src", "")), canonical(l.value("ip_dst", "")), l.value("port_src", 0),
          l.value("port_dst", 0), proto};
    rows.emplace_back(k, l.value("bytes", std::uint64_t{0}), l.value("packets", std::uint64_t{0}));
    names[k] = l;
  }
  auto got = sum_by_key(rows);
  EXPECT_EQ(got.size(), sc.truth.size()) << slurp(pm.out);
  for (const auto& [k, t] : sc.truth) {
    ASSERT_TRUE(got.count(k)) << std::get<0>(k) << " -> " << std::get<1>(k) << " missing: " << slurp(pm.out);
    EXPECT_EQ(got[k].bytes, t.bytes) << std::get<0>(k);
    EXPECT_EQ(got[k].packets, t.packets) << std::get<0>(k);
  }
  const json& web = names[Key{"10.1.0.1", "10.2.0.1", 40001, 5201, 6}];
  EXPECT_EQ(web.value("src_pod", ""), "web-7c9d5-x2k4p") << web.dump();
  EXPECT_EQ(web.value("src_ns", ""), "shop");
  EXPECT_EQ(web.value("src_workload", ""), "web");
  EXPECT_EQ(web.value("dst_pod", ""), "db-0");
  EXPECT_EQ(web.value("dst_ns", ""), "store");
  const std::string log = slurp(pm.log);
  EXPECT_EQ(log.find("expecting flow"), std::string::npos) << log;  // pmacct's sequence check
  EXPECT_EQ(log.find("ERROR"), std::string::npos) << log;
  EXPECT_EQ(log.find("WARN"), std::string::npos) << log;
}

// A collector restart over UDP: what is sent while it is down is lost, and
// netring counts exactly that many records; everything before and after
// arrives whole (the templates go again with the first messages after the
// kernel reported the collector unreachable).
TEST(IpfixCollectors, NfdumpRestartLosesOnlyWhatWasSentWhileItWasDown) {
  if (!have("nfcapd") || !have("nfdump")) GTEST_FAIL() << "nfdump missing: scripts/deps.sh installs it";
  Tmp tmp;
  Nfcapd nf(tmp.dir, free_port(SOCK_DGRAM));
  ASSERT_NO_FATAL_FAILURE(nf.start());
  SnapshotStore store;
  ExportOptions o = udp_to(nf.port);
  o.template_refresh = 1h;  // only the error path may bring the templates back
  FlowExporter ex(o, store);
  auto one = [](std::uint64_t id, int port) {
    FlowView f = flow(id, "10.9.0.1", "10.9.0.2", IPPROTO_UDP, static_cast<std::uint16_t>(port), 9, "a-0", "b-0");
    grow(f, 10, 1000 + static_cast<double>(id), true);
    f.end_reason = FlowEndReason::kIdleTimeout;
    return f;
  };
  std::uint64_t id = 0;
  auto export_batch = [&](int n, std::set<int>& ports) {
    for (int i = 0; i < n; ++i) {
      ++id;
      ex.enqueue_ended(std::vector<FlowView>{one(id, 20000 + static_cast<int>(id))});
      ports.insert(20000 + static_cast<int>(id));
      ex.round(AgentSnapshot{}, false, Clock::now());  // one message per flow
    }
  };
  std::set<int> before, during, after;
  export_batch(5, before);
  std::this_thread::sleep_for(300ms);
  nf.stop();  // down
  export_batch(7, during);
  const auto st_down = ex.status();
  nf.start();  // up again, same directory
  export_batch(5, after);
  nf.stop();
  std::set<int> got;
  for (const auto& [k, b, p] : nf.records()) got.insert(std::get<2>(k));
  std::set<int> expect = before;
  expect.insert(after.begin(), after.end());
  EXPECT_EQ(got, expect);
  const auto st = ex.status();
  // The 7 records sent while it was down, each answered with port
  // unreachable (the last one's answer reported by the first send after the
  // restart, which then goes out again and arrives).
  EXPECT_EQ(st.records_unreachable, during.size());
  EXPECT_EQ(st.records_send_failed, 0u);
  EXPECT_EQ(st_down.records_unreachable, during.size() - 1);
  EXPECT_EQ(st.records_sent - st.records_unreachable, got.size());
  EXPECT_EQ(nf.sequence_failures(), 0);
}

// --- libfixbuf over TCP ------------------------------------------------------

TEST(IpfixCollectors, TcpStreamReadByLibfixbufAndTemplatesFirstOnEveryConnection) {
  if (!have("socat") || !have("ipfixDump")) GTEST_FAIL() << "socat or libfixbuf-tools missing: scripts/deps.sh";
  Tmp tmp;
  const std::uint16_t port = free_port(SOCK_STREAM);
  auto listen = [&](const fs::path& file) {
    return std::make_unique<Child>(
        std::vector<std::string>{"socat", "-u", "TCP-LISTEN:" + std::to_string(port) + ",bind=127.0.0.1,reuseaddr",
                                 "CREATE:" + file.string()},
        tmp.dir / "socat.log");
  };
  auto s1 = listen(tmp.dir / "session1.ipfix");
  ASSERT_TRUE(eventually([&] { return bound(port, true); }));
  SnapshotStore store;
  ExportOptions o = udp_to(port);
  o.transport = Transport::kTcp;
  FlowExporter ex(o, store);
  Scenario sc;
  for (int i = 0; i < 3; ++i) {
    sc.step(i);
    ex.round(snapshot_of(sc.live), true, Clock::now());
  }
  std::this_thread::sleep_for(200ms);
  s1->stop();  // the collector goes away; socat closes the file
  auto s2 = listen(tmp.dir / "session2.ipfix");
  ASSERT_TRUE(eventually([&] { return bound(port, true); }));
  sc.step(3);
  // The first round finds the closed connection and reconnects.
  ASSERT_TRUE(eventually([&] {
    ex.round(snapshot_of(sc.live), true, Clock::now());
    return ex.status().reconnects == 1;
  }));
  ex.round(snapshot_of(sc.live), true, Clock::now());
  std::this_thread::sleep_for(200ms);
  s2->stop();
  for (const char* f : {"session1.ipfix", "session2.ipfix"}) {
    // Each session's stream alone: ipfixDump knows only what that stream says.
    const std::string out = run("ipfixDump --in " + (tmp.dir / f).string() + " 2>&1");
    EXPECT_NE(out.find("octetDeltaCount"), std::string::npos) << f << ":\n" << out;
    EXPECT_NE(out.find("sourceIPv6Address"), std::string::npos) << f;
    EXPECT_EQ(out.find("WARNING"), std::string::npos) << f << ":\n" << out;
    EXPECT_EQ(out.find("rror"), std::string::npos) << f << ":\n" << out;
    EXPECT_EQ(out.find("No Template"), std::string::npos) << f << ":\n" << out;
  }
}

}  // namespace
}  // namespace netring::agent::exporter
