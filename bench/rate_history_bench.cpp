// What the API's rate history (agent/api/rate_history.hpp, behind
// /api/v1/top?window=, the page's map and `netring top`) adds to every
// publication, beside the pass the agent already makes over the same flows
// for its metrics:
//
//   rates     RateHistory::add of a publication in which every flow grew (the
//             worst case: every flow's pair is looked up and booked)
//   metrics   AgentMetrics::update_flows on the same flows at label level
//             workload, handing out each flow's growth as the publisher has
//             it do (the metrics' delta tracker and counters: the
//             reference, what a publication costs the agent anyway)
//   query     RateHistory::top(pair, 1 min) with a full minute of history
//
// At 10k and 100k flows (one pod pair per 10 flows). The history books the
// growth the metrics' pass hands out, so the two run in that order on each
// publication; medians of the rounds, min..max, and rates/metrics are printed. CPU time of the process: the steadier
// figure on a loaded machine. Memory: the history's size after five minutes
// in which every pair grew every second (its worst case).
//
//   rate_history_bench [rounds=7]
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "agent/api/rate_history.hpp"
#include "agent/metrics/agent_metrics.hpp"

using namespace netring::agent;

namespace {

double cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

template <class F>
double time_ms(F&& f) {
  double c0 = cpu_ms();
  f();
  return cpu_ms() - c0;
}

struct Stats {
  double median, min, max;
};
Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

AgentSnapshot make_snapshot(std::size_t n) {
  AgentSnapshot s;
  s.flows.reserve(n);
  std::vector<IdentityRef> pods;
  for (std::size_t p = 0; p < n / 10 + 1; ++p)
    pods.emplace_back(Identity{"node-a", "ns-" + std::to_string(p % 37), "wl-" + std::to_string(p % 101), "Deployment",
                               "pod-" + std::to_string(p), ""});
  for (std::size_t i = 0; i < n; ++i) {
    FlowView f;
    f.id = i + 1;
    f.src = *IpAddress::parse("10.0.0.1");
    f.dst = *IpAddress::parse("10.0.0.2");
    f.protocol = IPPROTO_TCP;
    f.src_id = pods[(i / 10) % pods.size()];
    f.dst_id = pods[(i / 10 + 1) % pods.size()];
    f.first_seen_ns = 1;
    f.packets = 1;
    f.bytes = 1500;
    s.flows.push_back(std::move(f));
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::max(5, std::atoi(argv[1])) : 7;
  std::printf(
      "rate_history_bench: %d rounds per size, rates and metrics alternate on each publication, "
      "CPU ms, median [min..max]\n\n",
      rounds);
  std::printf("%8s  %24s  %24s  %8s  %22s  %10s  %8s  %10s\n", "flows", "rates ms", "metrics ms", "ratio",
              "query 1m ms", "endpoints", "buckets", "history MB");
  for (std::size_t n : {10000u, 100000u}) {
    AgentSnapshot snap = make_snapshot(n);
    SnapshotStore store;
    metrics::AgentMetrics m(store, {metrics::LabelLevel::kWorkload, 1'000'000, std::chrono::seconds(60)});
    api::RateHistory history;
    std::uint64_t t = 1'700'000'000ull * 1'000'000'000ull;
    auto publish = [&] {
      for (FlowView& f : snap.flows) {
        f.packets += 1;
        f.bytes += 1500;
      }
      t += 1'000'000'000ull;
      snap.taken_ns = t;
      ++snap.generation;
    };
    std::vector<FlowGrowth> growth;
    // Five minutes of history first (and the first publication is a baseline).
    for (int i = 0; i < 301; ++i) {
      publish();
      growth.clear();
      m.update_flows(snap.flows, {}, {}, &growth);
      history.add(snap.taken_ns, growth);
    }
    std::vector<double> rates, metrics_ms, query;
    for (int r = 0; r < rounds; ++r) {
      publish();
      growth.clear();
      metrics_ms.push_back(time_ms([&] { m.update_flows(snap.flows, {}, {}, &growth); }));
      if (growth.size() != snap.flows.size()) std::abort();
      rates.push_back(time_ms([&] { history.add(snap.taken_ns, growth); }));
      query.push_back(time_ms([&] {
        auto top = history.top(api::TopKey::kPair, api::TopBy::kBytes, 1000, std::chrono::minutes(1));
        if (top.entries.empty()) std::abort();
      }));
    }
    Stats a = stats(rates), b = stats(metrics_ms), q = stats(query);
    std::printf("%8zu  %8.2f [%6.2f..%6.2f]  %8.2f [%6.2f..%6.2f]  %8.2f  %6.2f [%5.2f..%6.2f]  %10zu  %8zu  %10.1f\n",
                n, a.median, a.min, a.max, b.median, b.min, b.max, a.median / b.median, q.median, q.min, q.max,
                history.endpoints(), history.buckets(), static_cast<double>(history.memory_bytes()) / 1e6);
  }
  return 0;
}
