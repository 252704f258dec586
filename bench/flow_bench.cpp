// Flow engine throughput: parse only, and parse + flow-table update at 1k,
// 100k and 1M live flows, against a straightforward
// std::unordered_map<FlowKey, FlowRecord> doing the same parse and record
// update, in the same run (interleaved repetitions, medians, ratio printed).
//
// Traffic: a mix of 60% IPv4/TCP, 15% IPv6/TCP, 15% IPv4/UDP and 10% VXLAN
// (IPv4/TCP inside), flows picked uniformly at random per packet; the frames
// of a 256k-packet stream are pre-generated back to back (as a capture ring
// would hold them) and cycled through. Every flow is inserted before timing,
// so the tables hold the stated number of live flows throughout.
//
// Loops: netring's prefetches each frame kFrameAhead frames before parsing
// it (Parser::prefetch, as the agent's worker does over a ring batch) and
// hands the parsed batch to update_batch(); the baseline's parses and
// updates frame after frame. BM_Parse measures parsing alone both ways, and
// the end of the output splits each side's time into parse and update.
//
// Counters: items_per_second = packets/s; bytes_per_flow = the table's
// memory divided by live flows (netring: its fixed arrays; baseline: heap
// growth measured with mallinfo2 while it was filled).
//
// Usage: flow_bench [google-benchmark flags]; defaults to 5 interleaved
// repetitions reporting medians.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "pkg/flow/parser.hpp"
#include "pkg/flow/table.hpp"
#include "tests/testing/packet_builder.hpp"

namespace {

using namespace netring::flow;
using netring::testing::PacketBuilder;
using Bytes = std::vector<std::uint8_t>;

constexpr std::size_t kStride = 128;  // every template fits; frames start cache-line aligned
constexpr std::size_t kStream = 1 << 18;
constexpr std::size_t kBatch = 64;

struct Template {
  Bytes frame;
  std::size_t src_off;  // last 4 bytes of the flow's source address
  std::size_t sport_off;
};

std::vector<Template> templates() {
  Bytes vx_inner = PacketBuilder().eth().ipv4("10.244.0.0", "10.244.9.9").tcp(0, 8080).build();
  Bytes vx_hdr(8 + vx_inner.size(), 0);
  vx_hdr[0] = 0x08;  // VNI valid
  vx_hdr[6] = 1;     // VNI 1
  std::copy(vx_inner.begin(), vx_inner.end(), vx_hdr.begin() + 8);
  const std::size_t vx = 14 + 20 + 8 + 8;
  return {
      {PacketBuilder().eth().ipv4("10.0.0.0", "10.1.0.1").tcp(0, 443).payload(20).build(), 14 + 12, 14 + 20},
      {PacketBuilder().eth().ipv6("fd00::", "fd00:1::1").tcp(0, 443).build(), 14 + 8 + 12, 14 + 40},
      {PacketBuilder().eth().ipv4("10.0.0.0", "10.1.0.2").udp(0, 53).payload(30).build(), 14 + 12, 14 + 20},
      {PacketBuilder().eth().ipv4("192.168.0.1", "192.168.0.2").udp(50000, 4789).payload(vx_hdr).build(), vx + 14 + 12,
       vx + 14 + 20},
  };
}

// Flow i's frame: its template with i written into the source address and port.
void write_flow(const std::vector<Template>& t, std::uint32_t i, std::uint8_t* out, std::uint32_t& len) {
  const std::uint32_t mix = i % 20;
  const Template& tp = t[mix < 12 ? 0 : mix < 15 ? 1 : mix < 18 ? 2 : 3];
  std::memcpy(out, tp.frame.data(), tp.frame.size());
  len = static_cast<std::uint32_t>(tp.frame.size());
  const std::uint32_t host = i / 16;
  out[tp.src_off + 1] = static_cast<std::uint8_t>(host >> 16);
  out[tp.src_off + 2] = static_cast<std::uint8_t>(host >> 8);
  out[tp.src_off + 3] = static_cast<std::uint8_t>(host);
  const std::uint16_t port = static_cast<std::uint16_t>(32768 + i % 16);
  out[tp.sport_off] = static_cast<std::uint8_t>(port >> 8);
  out[tp.sport_off + 1] = static_cast<std::uint8_t>(port);
}

struct Traffic {
  std::vector<std::uint8_t> stream;  // kStream frames, kStride apart
  std::vector<std::uint32_t> lens;
};

const Traffic& traffic(std::uint32_t flows) {
  static std::map<std::uint32_t, std::unique_ptr<Traffic>> cache;
  auto& t = cache[flows];
  if (!t) {
    t = std::make_unique<Traffic>();
    const auto tpl = templates();
    t->stream.resize(kStream * kStride);
    t->lens.resize(kStream);
    std::mt19937_64 rng(flows);
    for (std::size_t k = 0; k < kStream; ++k)
      write_flow(tpl, static_cast<std::uint32_t>(rng() % flows), &t->stream[k * kStride], t->lens[k]);
  }
  return *t;
}

FrameView frame(const Traffic& t, std::size_t k) {
  return {reinterpret_cast<const std::byte*>(&t.stream[k * kStride]), t.lens[k]};
}

SampleInfo info_for(std::uint64_t ts, std::uint32_t len) {
  SampleInfo s;
  s.weight = 64.0;
  s.timestamp_ns = ts;
  s.ifindex = 4;
  s.direction = Direction::kIngress;
  s.wire_len = len;
  return s;
}

// Calls fn(ParsedPacket) once for every flow, to fill a table before timing.
template <class F>
void for_every_flow(std::uint32_t flows, F&& fn) {
  const auto tpl = templates();
  Parser parser;
  alignas(64) std::uint8_t buf[kStride];
  ParsedPacket p;
  for (std::uint32_t i = 0; i < flows; ++i) {
    std::uint32_t len;
    write_flow(tpl, i, buf, len);
    if (parser.parse({reinterpret_cast<const std::byte*>(buf), len}, p) == ParseStatus::kOk) fn(p, len);
  }
}

// How far ahead netring's loop prefetches frames (Parser::prefetch): enough
// to cover a miss to DRAM at a few ns per frame, few enough for the fill buffers.
constexpr std::size_t kFrameAhead = 8;

// Parse alone, frame after frame (what both sides' loops did before frame
// prefetching; the baseline's loop still does), and with the frame
// prefetch netring's loop issues: range(1) = 0 or 1.
void BM_Parse(benchmark::State& state) {
  const Traffic& t = traffic(static_cast<std::uint32_t>(state.range(0)));
  const bool prefetch = state.range(1) != 0;
  Parser parser;
  ParsedPacket out[kBatch];
  std::size_t k = 0;
  for (auto _ : state) {
    for (std::size_t j = 0; j < kBatch; ++j) {
      if (prefetch) Parser::prefetch(frame(t, (k + j + kFrameAhead) % kStream));
      parser.parse(frame(t, k + j), out[j]);
    }
    benchmark::DoNotOptimize(out);
    k = (k + kBatch) % kStream;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBatch));
  if (parser.counters()[ParseStatus::kOk] != state.iterations() * kBatch) state.SkipWithError("parse failures");
}

FlowTable& netring_table(std::uint32_t flows) {
  static std::map<std::uint32_t, std::unique_ptr<FlowTable>> cache;
  auto& t = cache[flows];
  if (!t) {
    FlowTableConfig cfg;
    cfg.max_bytes = std::size_t{1} << 30;
    cfg.max_flows = flows;
    cfg.seed = 0x5eed;
    cfg.idle_timeout_ns = cfg.active_timeout_ns = UINT64_MAX;
    auto r = FlowTable::create(cfg);
    if (!r.ok()) std::abort();
    t = std::make_unique<FlowTable>(std::move(r).value());
    for_every_flow(flows, [&](const ParsedPacket& p, std::uint32_t len) { t->update(p, info_for(1, len)); });
  }
  return *t;
}

void BM_NetringUpdate(benchmark::State& state) {
  const auto flows = static_cast<std::uint32_t>(state.range(0));
  const Traffic& t = traffic(flows);
  FlowTable& table = netring_table(flows);
  Parser parser;
  ParsedPacket pkts[kBatch];
  SampleInfo infos[kBatch];
  std::size_t k = 0;
  std::uint64_t ts = 2;
  for (auto _ : state) {
    std::size_t n = 0;
    for (std::size_t j = 0; j < kBatch; ++j) {
      Parser::prefetch(frame(t, (k + j + kFrameAhead) % kStream));
      const FrameView f = frame(t, k + j);
      if (parser.parse(f, pkts[n]) != ParseStatus::kOk) continue;
      infos[n++] = info_for(ts++, f.len);
    }
    table.update_batch({pkts, n}, {infos, n});
    k = (k + kBatch) % kStream;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBatch));
  if (table.size() != flows || table.stats().evictions != 0) state.SkipWithError("table lost flows");
  state.counters["bytes_per_flow"] = static_cast<double>(table.memory_bytes()) / flows;
  state.counters["live_flows"] = static_cast<double>(table.size());
}

using BaselineMap = std::unordered_map<FlowKey, FlowRecord, FlowKeyHash>;
struct Baseline {
  BaselineMap map;
  double bytes_per_flow = 0;
};

Baseline& baseline_table(std::uint32_t flows) {
  static std::map<std::uint32_t, std::unique_ptr<Baseline>> cache;
  auto& b = cache[flows];
  if (!b) {
    b = std::make_unique<Baseline>();
    const std::size_t before = mallinfo2().uordblks;
    for_every_flow(flows, [&](const ParsedPacket& p, std::uint32_t len) {
      b->map[p.key].add(info_for(1, len), p.ip_len, p.tcp_flags, 1);
    });
    b->bytes_per_flow = static_cast<double>(mallinfo2().uordblks - before) / flows;
  }
  return *b;
}

void BM_BaselineUpdate(benchmark::State& state) {
  const auto flows = static_cast<std::uint32_t>(state.range(0));
  const Traffic& t = traffic(flows);
  Baseline& b = baseline_table(flows);
  Parser parser;
  ParsedPacket p;
  std::size_t k = 0;
  std::uint64_t ts = 2;
  for (auto _ : state) {
    for (std::size_t j = 0; j < kBatch; ++j) {
      const FrameView f = frame(t, k + j);
      if (parser.parse(f, p) != ParseStatus::kOk) continue;
      const std::uint32_t ip_len = p.ip_len != 0 ? p.ip_len : f.len - p.l3_offset;
      b.map[p.key].add(info_for(ts, f.len), ip_len, p.tcp_flags, ts);
      ++ts;
    }
    k = (k + kBatch) % kStream;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBatch));
  if (b.map.size() != flows) state.SkipWithError("baseline lost flows");
  state.counters["bytes_per_flow"] = b.bytes_per_flow;
  state.counters["live_flows"] = static_cast<double>(b.map.size());
}

BENCHMARK(BM_Parse)->ArgNames({"flows", "prefetch"})->ArgsProduct({{1000, 100'000, 1'000'000}, {0, 1}});
BENCHMARK(BM_NetringUpdate)->ArgName("flows")->Arg(1000)->Arg(100'000)->Arg(1'000'000);
BENCHMARK(BM_BaselineUpdate)->ArgName("flows")->Arg(1000)->Arg(100'000)->Arg(1'000'000);

// Keeps the medians to print netring / baseline per size at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      auto it = r.counters.find("items_per_second");
      if (it == r.counters.end()) continue;
      rates_[r.run_name.function_name][r.run_name.args] = it->second.value;
    }
  }
  void print_ratios() const {
    auto net = rates_.find("BM_NetringUpdate"), base = rates_.find("BM_BaselineUpdate");
    if (net == rates_.end() || base == rates_.end()) return;
    std::printf("\nparse + update, median packets/s (netring / std::unordered_map):\n");
    for (const auto& [args, rate] : net->second) {
      auto b = base->second.find(args);
      if (b == base->second.end() || b->second <= 0) continue;
      std::printf("  %-14s netring %7.2f M/s   baseline %7.2f M/s   ratio %.2fx\n", args.c_str(), rate / 1e6,
                  b->second / 1e6, rate / b->second);
    }
    print_split(net->second, base->second);
  }

  // Where each side's time goes, from the medians: parse alone (each
  // side's loop: netring's prefetches frames ahead, the baseline's parses
  // frame after frame) and the rest, the table update. The last column is
  // the best ratio a table costing nothing would give: the baseline's
  // total over netring's parse alone.
  void print_split(const std::map<std::string, double>& net, const std::map<std::string, double>& base) const {
    auto parse = rates_.find("BM_Parse");
    if (parse == rates_.end()) return;
    std::printf("\nper packet, median ns: parse alone, then the update (total minus parse):\n");
    for (const auto& [args, rate] : net) {
      auto b = base.find(args);
      auto p0 = parse->second.find(args + "/prefetch:0"), p1 = parse->second.find(args + "/prefetch:1");
      if (b == base.end() || p0 == parse->second.end() || p1 == parse->second.end()) continue;
      const double net_ns = 1e9 / rate, base_ns = 1e9 / b->second;
      const double parse_net = 1e9 / p1->second, parse_base = 1e9 / p0->second;
      std::printf(
          "  %-14s netring %6.1f = parse %5.1f + update %5.1f   baseline %6.1f = parse %5.1f + update %5.1f   "
          "update ratio %.2fx   free-table bound %.2fx\n",
          args.c_str(), net_ns, parse_net, net_ns - parse_net, base_ns, parse_base, base_ns - parse_base,
          (base_ns - parse_base) / (net_ns - parse_net), base_ns / parse_net);
    }
  }

 private:
  std::map<std::string, std::map<std::string, double>> rates_;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args{argv[0]};
  std::string reps = "--benchmark_repetitions=5", inter = "--benchmark_enable_random_interleaving=true",
              aggr = "--benchmark_report_aggregates_only=true";
  args.push_back(reps.data());
  args.push_back(inter.data());
  args.push_back(aggr.data());
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);  // the caller's flags win
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_ratios();
  benchmark::Shutdown();
  return 0;
}
