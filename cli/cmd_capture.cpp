// netring capture: a pcap file of the sampled packets matching a filter,
// from every agent at once (merged by time), through the API's capture
// endpoint; then a summary of what it holds, by conversation, with pod names
// where the agents know the addresses.
#include <pcap/pcap.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "cli/interrupt.hpp"
#include "cli/query.hpp"
#include "cli/table.hpp"
#include "pkg/common/duration.hpp"
#include "pkg/flow/parser.hpp"

namespace netring::cli {
namespace {

constexpr std::size_t kPcapHeader = 24, kRecordHeader = 16;

std::uint32_t u32(const std::string& s, std::size_t at, bool swapped) {
  std::uint32_t v;
  std::memcpy(&v, s.data() + at, 4);
  return swapped ? __builtin_bswap32(v) : v;
}

// The length of `pcap` up to its last whole record: an interrupted stream
// may end inside one.
std::size_t whole_records(const std::string& pcap) {
  if (pcap.size() < kPcapHeader) return 0;
  std::uint32_t magic = u32(pcap, 0, false);
  bool swapped = magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1;
  std::size_t at = kPcapHeader;
  while (at + kRecordHeader <= pcap.size()) {
    std::size_t next = at + kRecordHeader + u32(pcap, at + 8, swapped);
    if (next > pcap.size()) break;
    at = next;
  }
  return at;
}

struct Packet {
  pcap_pkthdr hdr;
  std::string data;
};

struct PcapRead {
  int linktype = -1;
  int snaplen = 0;
  std::vector<Packet> packets;
  std::string error;
};

PcapRead read_pcap(const std::string& bytes) {
  PcapRead r;
  if (bytes.size() < kPcapHeader) return r;
  FILE* f = fmemopen(const_cast<char*>(bytes.data()), bytes.size(), "rb");
  if (f == nullptr) {
    r.error = std::strerror(errno);
    return r;
  }
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_fopen_offline(f, err);  // owns f from here
  if (p == nullptr) {
    std::fclose(f);
    r.error = err;
    return r;
  }
  r.linktype = pcap_datalink(p);
  r.snaplen = pcap_snapshot(p);
  pcap_pkthdr* h = nullptr;
  const u_char* d = nullptr;
  while (pcap_next_ex(p, &h, &d) == 1)
    r.packets.push_back({*h, std::string(reinterpret_cast<const char*>(d), h->caplen)});
  pcap_close(p);
  return r;
}

// Several agents' captures as one file, ordered by time.
std::string merge_pcaps(const std::vector<PcapRead>& parts, std::string& error) {
  int linktype = -1, snaplen = 0;
  std::vector<const Packet*> all;
  for (const auto& p : parts) {
    if (p.linktype < 0) continue;
    if (linktype >= 0 && p.linktype != linktype) {
      error = "the agents' captures have different link types; they cannot share one file";
      return {};
    }
    linktype = p.linktype;
    snaplen = std::max(snaplen, p.snaplen);
    for (const auto& pkt : p.packets) all.push_back(&pkt);
  }
  if (linktype < 0) linktype = DLT_EN10MB;
  std::stable_sort(all.begin(), all.end(), [](const Packet* a, const Packet* b) {
    return a->hdr.ts.tv_sec != b->hdr.ts.tv_sec ? a->hdr.ts.tv_sec < b->hdr.ts.tv_sec
                                                : a->hdr.ts.tv_usec < b->hdr.ts.tv_usec;
  });
  char* buf = nullptr;
  std::size_t len = 0;
  FILE* mem = open_memstream(&buf, &len);
  pcap_t* dead = pcap_open_dead(linktype, snaplen > 0 ? snaplen : 65535);
  pcap_dumper_t* dumper = pcap_dump_fopen(dead, mem);  // owns mem
  for (const Packet* p : all)
    pcap_dump(reinterpret_cast<u_char*>(dumper), &p->hdr, reinterpret_cast<const u_char*>(p->data.data()));
  pcap_dump_close(dumper);
  pcap_close(dead);
  std::string out(buf, len);
  std::free(buf);
  return out;
}

std::string protocol_text(std::uint8_t p) {
  switch (p) {
    case 6: return "tcp";
    case 17: return "udp";
    case 1: return "icmp";
    case 58: return "icmpv6";
    case 132: return "sctp";
    default: return std::to_string(p);
  }
}

// What the capture holds, by conversation (one direction each, as flows).
std::string summary(const Common& c, const PcapRead& pcap, const std::map<std::string, std::string>& names) {
  struct Conv {
    std::string src, dst, proto;
    std::uint64_t packets = 0, bytes = 0;
  };
  std::map<std::string, Conv> convs;
  std::uint64_t other = 0;
  flow::Parser parser;
  for (const auto& p : pcap.packets) {
    flow::ParsedPacket pp;
    if (parser.parse({reinterpret_cast<const std::byte*>(p.data.data()), static_cast<std::uint32_t>(p.data.size())},
                     pp) != flow::ParseStatus::kOk) {
      ++other;
      continue;
    }
    const auto& k = pp.key;
    bool ported = k.protocol == 6 || k.protocol == 17 || k.protocol == 132;
    auto end = [&](const flow::Address& a, std::uint16_t port) {
      std::string ip = flow::to_string(a);
      auto it = names.find(ip);
      std::string who = it != names.end() ? it->second : ip;
      if (!ported) return who;
      bool v6 = it == names.end() && ip.find(':') != std::string::npos;
      return (v6 ? "[" + who + "]" : who) + ":" + std::to_string(port);
    };
    std::string src = end(k.src, k.src_port), dst = end(k.dst, k.dst_port), proto = protocol_text(k.protocol);
    Conv& cv = convs[src + ">" + dst + ">" + proto];
    cv.src = src;
    cv.dst = dst;
    cv.proto = proto;
    ++cv.packets;
    cv.bytes += p.hdr.len;
  }
  std::vector<Conv> list;
  for (auto& [k, v] : convs) list.push_back(std::move(v));
  std::sort(list.begin(), list.end(), [](const Conv& a, const Conv& b) {
    return a.packets != b.packets ? a.packets > b.packets : a.src + a.dst < b.src + b.dst;
  });
  Table t({{"SOURCE", false, true, 14, 0, 0},
           {"DESTINATION", false, true, 14, 0, 0},
           {"PROTO", false, false, 10, 0, 0},
           {"PACKETS", true, false, 10, 0, 0},
           {"BYTES", true, false, 10, 1, 0}},
          c.term.width, c.term.ellipsis, c.pal.bold, c.pal.reset);
  for (const auto& cv : list)
    t.add({{cv.src, c.pal.cyan},
           {cv.dst, c.pal.magenta},
           {cv.proto, ""},
           {std::to_string(cv.packets), ""},
           {bytes_text(static_cast<double>(cv.bytes)), ""}});
  std::string out = list.empty() ? "" : t.render();
  if (other > 0) out += std::to_string(other) + " packets without an IP flow (ARP and the like)\n";
  return out;
}

// ip -> "ns/pod" (or "service ns/name") from the agents' flows.
std::map<std::string, std::string> names_from_flows(const Common& c) {
  std::map<std::string, std::string> names;
  auto answers = for_each_server<std::variant<nlohmann::json, ApiFailure>>(
      c.servers, [](ApiClient& client) { return client.get_json("/api/v1/flows?limit=10000"); });
  for (const auto& a : answers) {
    const auto* j = std::get_if<nlohmann::json>(&a);
    if (!j || !j->contains("flows") || !(*j)["flows"].is_array()) continue;
    for (const auto& f : (*j)["flows"])
      for (const char* side : {"src", "dst"}) {
        if (!f.contains(side)) continue;
        const auto& e = f[side];
        std::string ip = e.value("ip", ""), ns = e.value("namespace", ""), pod = e.value("pod", "");
        if (!ip.empty() && !pod.empty()) names[ip] = (ns.empty() ? "" : ns + "/") + pod;
      }
  }
  return names;
}

}  // namespace

CommandInfo capture_info() {
  CommandInfo i;
  i.name = "capture";
  i.synopsis = "netring capture -w FILE [--filter EXPR] [--duration D] [--max-packets N]";
  i.description =
      "Writes the sampled packets that match a pcap filter to FILE (\"-\": stdout), from every agent at once\n"
      "(merged by time), until --duration passes, --max-packets arrive, or Ctrl-C; then says what it holds,\n"
      "by conversation. The agents cut each packet at their snap length (headers, little payload), and\n"
      "serve captures only when started with --enable-capture-api.";
  i.options = {
      {"write", 'w', true, false, "FILE", "the pcap file to write (\"-\": stdout; the summary goes to stderr)"},
      {"filter", 0, true, false, "EXPR", "pcap filter, e.g. 'tcp port 80' (default: everything sampled)"},
      {"duration", 'd', true, false, "DURATION", "how long (default 10s; the agent's bound is --capture-max-duration)"},
      {"max-packets", 0, true, false, "N", "stop after N packets per agent (bound: --capture-max-packets)"},
  };
  i.examples =
      "  netring capture -w dns.pcap --filter 'udp port 53' --duration 30s\n"
      "  netring capture -w - --filter icmp | tshark -r -\n";
  return i;
}

int run_capture(std::span<const std::string> argv) {
  CommandInfo info = capture_info();
  std::vector<OptionSpec> specs = info.options;
  for (auto& o : common_options()) specs.push_back(o);
  Args args = Args::parse(argv, specs);
  if (args.has("help")) {
    emit(command_help(info));
    return kExitOk;
  }
  Common c = common_from(args);
  auto path = args.value("write");
  if (!path) throw UsageError("-w FILE is required (the pcap file to write; - for stdout)");
  const bool to_stdout = *path == "-";

  Query q;
  if (auto v = args.value("filter")) q.add("filter", *v);
  auto duration = std::chrono::seconds(10);
  if (auto v = args.value("duration")) {
    q.add("duration", *v);
    if (auto d = parse_duration(*v)) duration = std::chrono::duration_cast<std::chrono::seconds>(*d);
  }
  if (auto v = args.value("max-packets")) q.add("max_packets", *v);
  const std::string target = q.target("/api/v1/capture");

  FILE* file = to_stdout ? stdout : std::fopen(path->c_str(), "wb");
  if (file == nullptr) {
    print_error("cannot write " + *path + ": " + std::strerror(errno));
    return kExitFailure;
  }

  std::vector<std::unique_ptr<ApiClient>> clients;
  for (const auto& s : c.servers) clients.push_back(std::make_unique<ApiClient>(s));
  std::vector<std::string> bodies(c.servers.size());
  std::vector<std::optional<ApiFailure>> failures(c.servers.size());
  std::atomic<std::size_t> running{c.servers.size()};
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < clients.size(); ++i) {
    threads.emplace_back([&, i] {
      failures[i] = clients[i]->stream(
          target,
          [&, i](const char* data, std::size_t len) {
            bodies[i].append(data, len);
            return true;
          },
          duration + std::chrono::seconds(30));
      --running;
    });
  }
  while (running.load() > 0 && !interrupt_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (interrupt_requested())
    for (auto& cl : clients) cl->stop();
  for (auto& t : threads) t.join();

  std::vector<ApiFailure> failed;
  std::vector<PcapRead> parts;
  std::vector<std::optional<std::size_t>> counts(clients.size());
  std::string single;
  std::size_t ok = 0;
  for (std::size_t i = 0; i < clients.size(); ++i) {
    if (failures[i]) {
      failed.push_back(*failures[i]);
      continue;
    }
    bodies[i].resize(whole_records(bodies[i]));
    parts.push_back(read_pcap(bodies[i]));
    if (!parts.back().error.empty()) {
      failed.push_back(ApiFailure{FailureKind::kBroken, c.servers[i].text(),
                                  c.servers[i].text() + " sent a capture libpcap cannot read: " + parts.back().error,
                                  "", "", 200});
      parts.pop_back();
      continue;
    }
    counts[i] = parts.back().packets.size();
    single = bodies[i];
    ++ok;
  }
  if (ok == 0) {
    if (!to_stdout) {
      std::fclose(file);
      std::remove(path->c_str());
    }
    return report_failures(failed,
                           {{"filter", "--filter"}, {"duration", "--duration"}, {"max_packets", "--max-packets"}});
  }
  std::string merge_error;
  std::string bytes = ok == 1 ? single : merge_pcaps(parts, merge_error);
  if (!merge_error.empty()) {
    print_error(merge_error);
    return kExitFailure;
  }
  bool written = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
  written = (to_stdout ? std::fflush(file) : std::fclose(file)) == 0 && written;
  if (!written) {
    print_error("writing " + *path + " failed: " + std::strerror(errno));
    return kExitFailure;
  }

  PcapRead all = read_pcap(bytes);
  std::uint64_t wire = 0;
  for (const auto& p : all.packets) wire += p.hdr.len;
  std::string text = "wrote " + std::to_string(all.packets.size()) + " packets (" +
                     bytes_text(static_cast<double>(wire)) + " on the wire, at most " + std::to_string(all.snaplen) +
                     " bytes kept of each) to " + (to_stdout ? std::string("stdout") : *path) +
                     (interrupt_requested() ? " (interrupted)" : "") + "\n";
  if (c.servers.size() > 1) {
    for (std::size_t i = 0; i < c.servers.size(); ++i)
      if (counts[i]) text += "  " + std::to_string(*counts[i]) + " from " + c.servers[i].text() + "\n";
  }
  text += summary(c, all, names_from_flows(c));
  if (to_stdout)
    std::fputs(text.c_str(), stderr);
  else
    emit(text);
  return report_failures(failed,
                         {{"filter", "--filter"}, {"duration", "--duration"}, {"max_packets", "--max-packets"}});
}

}  // namespace netring::cli
