// Flow engine throughput against a straightforward
// std::unordered_map<FlowKey, FlowRecord> doing the same record update, in
// the same run (interleaved repetitions, medians, ratio printed), at 1k,
// 100k and 1M live flows.
//
// Traffic: a mix of 60% IPv4/TCP, 15% IPv6/TCP, 15% IPv4/UDP and 10% VXLAN
// (IPv4/TCP inside), flows picked uniformly at random per packet; the frames
// of a 256k-packet stream are pre-generated back to back (as a capture ring
// would hold them) and cycled through. Every flow is inserted before timing,
// so the tables hold the stated number of live flows throughout.
//
// Three measurements:
//  - table (the headline ratio): the stream parsed once before timing; only
//    the table work is timed, a batch of parsed packets at a time: netring's
//    update_batch() against the map's lookup-or-insert and record update per
//    packet. Nothing but the tables differs.
//  - parse + update: the whole per-packet path, with the same front end on
//    both sides (frames prefetched kFrameAhead ahead with Parser::prefetch,
//    as the agent's worker does, and parsed a batch at a time); only the
//    table call after it differs. Since the parse is shared, this ratio is
//    smaller than the table's; netring's rate here is the packets/s goal.
//  - parse alone, frame after frame and with the frame prefetch.
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

// Parse alone, frame after frame and with the frame prefetch both
// parse + update loops issue: range(1) = 0 or 1.
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

// The stream parsed once, for the table-only runs.
struct Parsed {
  std::vector<ParsedPacket> pkts;
  std::vector<SampleInfo> infos;
};

const Parsed& parsed(std::uint32_t flows) {
  static std::map<std::uint32_t, std::unique_ptr<Parsed>> cache;
  auto& p = cache[flows];
  if (!p) {
    p = std::make_unique<Parsed>();
    const Traffic& t = traffic(flows);
    Parser parser;
    p->pkts.resize(kStream);
    p->infos.resize(kStream);
    for (std::size_t k = 0; k < kStream; ++k) {
      const FrameView f = frame(t, k);
      if (parser.parse(f, p->pkts[k]) != ParseStatus::kOk) std::abort();
      p->infos[k] = info_for(2 + k, f.len);
    }
  }
  return *p;
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

// The baseline's record update for one parsed packet: what FlowTable does
// for it, through the map.
inline void baseline_update(BaselineMap& map, const ParsedPacket& p, const SampleInfo& info) {
  const std::uint32_t ip_len = p.ip_len != 0 ? p.ip_len : info.wire_len - p.l3_offset;
  map[p.key].add(info, ip_len, p.tcp_flags, info.timestamp_ns);
}

void table_counters(benchmark::State& state, const FlowTable& table, std::uint32_t flows) {
  if (table.size() != flows || table.stats().evictions != 0) state.SkipWithError("table lost flows");
  state.counters["bytes_per_flow"] = static_cast<double>(table.memory_bytes()) / flows;
  state.counters["live_flows"] = static_cast<double>(table.size());
}
void baseline_counters(benchmark::State& state, const Baseline& b, std::uint32_t flows) {
  if (b.map.size() != flows) state.SkipWithError("baseline lost flows");
  state.counters["bytes_per_flow"] = b.bytes_per_flow;
  state.counters["live_flows"] = static_cast<double>(b.map.size());
}

// ---- table only: the same parsed batches into each table ----

void BM_NetringTable(benchmark::State& state) {
  const auto flows = static_cast<std::uint32_t>(state.range(0));
  const Parsed& in = parsed(flows);
  FlowTable& table = netring_table(flows);
  std::size_t k = 0;
  for (auto _ : state) {
    table.update_batch({&in.pkts[k], kBatch}, {&in.infos[k], kBatch});
    k = (k + kBatch) % kStream;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBatch));
  table_counters(state, table, flows);
}

void BM_BaselineTable(benchmark::State& state) {
  const auto flows = static_cast<std::uint32_t>(state.range(0));
  const Parsed& in = parsed(flows);
  Baseline& b = baseline_table(flows);
  std::size_t k = 0;
  for (auto _ : state) {
    for (std::size_t j = 0; j < kBatch; ++j) baseline_update(b.map, in.pkts[k + j], in.infos[k + j]);
    k = (k + kBatch) % kStream;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBatch));
  baseline_counters(state, b, flows);
}

// ---- parse + update: one front end for both, then each table ----

// Prefetches and parses the kBatch frames from k into pkts/infos; returns
// how many parsed.
inline std::size_t parse_batch(Parser& parser, const Traffic& t, std::size_t k, std::uint64_t& ts, ParsedPacket* pkts,
                               SampleInfo* infos) {
  std::size_t n = 0;
  for (std::size_t j = 0; j < kBatch; ++j) {
    Parser::prefetch(frame(t, (k + j + kFrameAhead) % kStream));
    const FrameView f = frame(t, k + j);
    if (parser.parse(f, pkts[n]) != ParseStatus::kOk) continue;
    infos[n++] = info_for(ts++, f.len);
  }
  return n;
}

void BM_NetringParseUpdate(benchmark::State& state) {
  const auto flows = static_cast<std::uint32_t>(state.range(0));
  const Traffic& t = traffic(flows);
  FlowTable& table = netring_table(flows);
  Parser parser;
  ParsedPacket pkts[kBatch];
  SampleInfo infos[kBatch];
  std::size_t k = 0;
  std::uint64_t ts = 2;
  for (auto _ : state) {
    const std::size_t n = parse_batch(parser, t, k, ts, pkts, infos);
    table.update_batch({pkts, n}, {infos, n});
    k = (k + kBatch) % kStream;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBatch));
  table_counters(state, table, flows);
}

void BM_BaselineParseUpdate(benchmark::State& state) {
  const auto flows = static_cast<std::uint32_t>(state.range(0));
  const Traffic& t = traffic(flows);
  Baseline& b = baseline_table(flows);
  Parser parser;
  ParsedPacket pkts[kBatch];
  SampleInfo infos[kBatch];
  std::size_t k = 0;
  std::uint64_t ts = 2;
  for (auto _ : state) {
    const std::size_t n = parse_batch(parser, t, k, ts, pkts, infos);
    for (std::size_t j = 0; j < n; ++j) baseline_update(b.map, pkts[j], infos[j]);
    k = (k + kBatch) % kStream;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBatch));
  baseline_counters(state, b, flows);
}

BENCHMARK(BM_Parse)->ArgNames({"flows", "prefetch"})->ArgsProduct({{1000, 100'000, 1'000'000}, {0, 1}});
BENCHMARK(BM_NetringTable)->ArgName("flows")->Arg(1000)->Arg(100'000)->Arg(1'000'000);
BENCHMARK(BM_BaselineTable)->ArgName("flows")->Arg(1000)->Arg(100'000)->Arg(1'000'000);
BENCHMARK(BM_NetringParseUpdate)->ArgName("flows")->Arg(1000)->Arg(100'000)->Arg(1'000'000);
BENCHMARK(BM_BaselineParseUpdate)->ArgName("flows")->Arg(1000)->Arg(100'000)->Arg(1'000'000);

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
    print_pair("table update alone, the headline (same parsed batches into each table)", "BM_NetringTable",
               "BM_BaselineTable");
    print_pair("parse + update (the same prefetching, batched parse in front of each table)", "BM_NetringParseUpdate",
               "BM_BaselineParseUpdate");
  }

 private:
  void print_pair(const char* title, const char* netring, const char* baseline) const {
    auto net = rates_.find(netring), base = rates_.find(baseline);
    if (net == rates_.end() || base == rates_.end()) return;
    std::printf("\n%s, median packets/s (netring / std::unordered_map):\n", title);
    for (const auto& [args, rate] : net->second) {
      auto b = base->second.find(args);
      if (b == base->second.end() || b->second <= 0) continue;
      std::printf("  %-14s netring %7.2f M/s (%5.1f ns)   baseline %7.2f M/s (%5.1f ns)   ratio %.2fx\n", args.c_str(),
                  rate / 1e6, 1e9 / rate, b->second / 1e6, 1e9 / b->second, rate / b->second);
    }
  }

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
