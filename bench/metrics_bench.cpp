// /metrics scrape time at 1k and 10k flow series.
//
//   scrape     GET /metrics over loopback after every series grew: registry
//              Collect + TextSerializer + cpp-httplib (what Prometheus waits
//              for); the goal's figure
//   gzip       the same with Accept-Encoding: gzip, as Prometheus asks by
//              default (httplib deflates the body at zlib's default level)
//   cached     a second gzip GET right after that one, data unchanged (two
//              Prometheus replicas): the agent reuses its rendering and its
//              compressed form
//   serialize  the same exposition without HTTP (prometheus-cpp alone)
//   snprintf   a hand-written exposition of the same series with snprintf
//              into one buffer: the floor for producing that much text
//
// The three alternate within each round; medians of the rounds and the
// ratios are printed. Goal: scrape <= 50 ms at 10k series.
//
//   metrics_bench [rounds=11] [--json FILE]
#include <httplib.h>
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/metrics/agent_metrics.hpp"
#include "agent/metrics/metrics_server.hpp"

using namespace netring::agent;
using Clock = std::chrono::steady_clock;

namespace {

std::vector<FlowView> make_flows(std::size_t label_sets) {
  std::vector<FlowView> flows;
  flows.reserve(label_sets);
  for (std::size_t i = 0; i < label_sets; ++i) {
    FlowView f;
    f.id = i + 1;
    f.src = *IpAddress::parse("10.0.0.1");
    f.dst = *IpAddress::parse("10.0.0.2");
    f.protocol = (i & 1) ? IPPROTO_UDP : IPPROTO_TCP;
    f.direction = (i & 2) ? FlowDirection::kIngress : FlowDirection::kEgress;
    f.src_id = Identity{
        "node-a", "ns-" + std::to_string(i % 37), "wl", "Deployment", "frontend-7d9f8c6b5-" + std::to_string(i), ""};
    f.dst_id = Identity{"node-b",      "ns-" + std::to_string(i % 11),       "db",
                        "StatefulSet", "postgres-" + std::to_string(i % 97), ""};
    f.packets = 10 + static_cast<double>(i);
    f.bytes = 1500.0 * f.packets;
    f.first_seen_ns = 1;
    flows.push_back(std::move(f));
  }
  return flows;
}

std::string snprintf_exposition(const std::vector<FlowView>& flows) {
  std::string out;
  out.reserve(flows.size() * 2 * 260);
  char line[1024];
  for (const char* name : {"netring_flow_bytes_total", "netring_flow_packets_total"}) {
    out += "# HELP ";
    out += name;
    out += " flow counter\n# TYPE ";
    out += name;
    out += " counter\n";
    const bool bytes = name[13] == 'b';
    for (const FlowView& f : flows) {
      int n = std::snprintf(line, sizeof line,
                            "%s{direction=\"%s\",dst_namespace=\"%s\",dst_pod=\"%s\",protocol=\"%s\",reporter=\"%s\","
                            "src_namespace=\"%s\",src_pod=\"%s\"} %.17g\n",
                            name, to_string(f.direction), f.dst_id->ns.c_str(), f.dst_id->pod.c_str(),
                            protocol_name(f.protocol).c_str(), to_string(f.reporter), f.src_id->ns.c_str(),
                            f.src_id->pod.c_str(), bytes ? f.bytes : f.packets);
      out.append(line, static_cast<std::size_t>(n));
    }
  }
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

struct Sample {
  double wall, cpu;
};

// Wall time, and the CPU time of the whole process (client and server
// threads): on a shared, loaded machine the CPU time is the steadier figure.
template <class F>
Sample time_ms(F&& f) {
  double c0 = cpu_ms();
  auto t0 = Clock::now();
  f();
  return {std::chrono::duration<double, std::milli>(Clock::now() - t0).count(), cpu_ms() - c0};
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 11;
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--json" && i + 1 < argc)
      json_path = argv[++i];
    else
      rounds = std::max(5, std::atoi(argv[i]));
  }
  nlohmann::json out = {{"rounds", rounds}};
  std::printf("metrics_bench: %d rounds per size, variants alternate within a round, medians shown\n\n", rounds);
  std::printf("%8s  %6s  %12s  %12s  %12s  %12s  %12s  %10s  %14s  %14s\n", "series", "clock", "scrape ms", "gzip ms",
              "cached ms", "serialize ms", "snprintf ms", "bytes", "scrape/serial", "scrape/snprintf");
  for (std::size_t series : {1000u, 10000u}) {
    SnapshotStore store;
    metrics::AgentMetrics m(store, {metrics::LabelLevel::kPod, 1'000'000, std::chrono::seconds(60)});
    auto flows = make_flows(series / 2);  // each label set has a bytes and a packets series
    m.update_flows(flows);
    if (m.flows().series() != series) {
      std::fprintf(stderr, "expected %zu series, have %zu\n", series, m.flows().series());
      return 1;
    }
    // Every series grows between two scrapes, as on a busy node: the agent
    // must render again (its exposition cache only serves unchanged data).
    auto grow = [&] {
      for (FlowView& f : flows) {
        f.packets += 1;
        f.bytes += 1500;
      }
      m.update_flows(flows);
    };
    metrics::MetricsServer server(m, store);
    auto started = server.start({"127.0.0.1", 0});
    if (!started.ok()) {
      std::fprintf(stderr, "%s\n", started.error().message().c_str());
      return 1;
    }
    httplib::Client client("127.0.0.1", server.port());
    client.set_keep_alive(true);
    // What Prometheus sends (scrape_config enable_compression, on by
    // default); the body stays compressed so the client's own inflate does
    // not count.
    httplib::Client gz_client("127.0.0.1", server.port());
    gz_client.set_keep_alive(true);
    gz_client.set_decompress(false);
    const httplib::Headers gzip{{"Accept-Encoding", "gzip"}};

    std::vector<Sample> scrape, cached, gzipped, serial, plain;
    std::size_t bytes = 0, gz_bytes = 0, plain_bytes = 0;
    for (int r = -1; r < rounds; ++r) {  // round -1 warms up
      grow();
      Sample a = time_ms([&] {
        auto res = client.Get("/metrics");
        if (!res || res->status != 200) std::abort();
        bytes = res->body.size();
      });
      grow();
      Sample g = time_ms([&] {
        auto res = gz_client.Get("/metrics", gzip);
        if (!res || res->status != 200 || res->get_header_value("Content-Encoding") != "gzip") std::abort();
        gz_bytes = res->body.size();
      });
      // A second Prometheus right after (an HA pair): same data, same request.
      Sample a2 = time_ms([&] {
        auto res = gz_client.Get("/metrics", gzip);
        if (!res || res->status != 200 || res->body.size() != gz_bytes) std::abort();
      });
      Sample b = time_ms([&] {
        std::string s = m.render();
        if (s.empty()) std::abort();
      });
      Sample c = time_ms([&] { plain_bytes = snprintf_exposition(flows).size(); });
      if (r < 0) continue;
      scrape.push_back(a);
      cached.push_back(a2);
      gzipped.push_back(g);
      serial.push_back(b);
      plain.push_back(c);
    }
    auto all = [](const std::vector<Sample>& v, bool wall) {
      std::vector<double> x;
      for (const Sample& s : v) x.push_back(wall ? s.wall : s.cpu);
      return x;
    };
    out["sizes"].push_back({{"series", series},
                            {"bytes", bytes},
                            {"gzip_bytes", gz_bytes},
                            {"scrape_wall_ms", all(scrape, true)},
                            {"scrape_cpu_ms", all(scrape, false)},
                            {"scrape_cached_wall_ms", all(cached, true)},
                            {"scrape_cached_cpu_ms", all(cached, false)},
                            {"scrape_gzip_wall_ms", all(gzipped, true)},
                            {"scrape_gzip_cpu_ms", all(gzipped, false)},
                            {"serialize_wall_ms", all(serial, true)},
                            {"serialize_cpu_ms", all(serial, false)},
                            {"snprintf_wall_ms", all(plain, true)},
                            {"snprintf_cpu_ms", all(plain, false)}});
    for (bool wall : {true, false}) {
      auto pick = [wall](const std::vector<Sample>& v) {
        std::vector<double> x;
        for (const Sample& s : v) x.push_back(wall ? s.wall : s.cpu);
        return median(x);
      };
      double ms = pick(scrape), ss = pick(serial), ps = pick(plain);
      std::printf("%8zu  %6s  %12.2f  %12.2f  %12.2f  %12.2f  %12.2f  %10zu  %14.2f  %14.2f\n", series,
                  wall ? "wall" : "cpu", ms, pick(gzipped), pick(cached), ss, ps, bytes, ms / ss, ms / ps);
    }
    // On a shared machine the wall time is the CPU time divided by the share
    // of a core the process got: print that share, so a wall figure above the
    // goal with a CPU figure below it is read as load, not as cost.
    std::vector<double> share;
    for (const Sample& s : scrape) share.push_back(s.wall > 0 ? s.cpu / s.wall : 0);
    std::printf(
        "%8s  cold scrape: CPU/wall %.2f (median of rounds; > 1 means client and server ran in parallel), "
        "gzip body %zu bytes\n",
        "", median(share), gz_bytes);
    (void)plain_bytes;
    server.stop();
  }
  std::printf("\ngoal: scrape <= 50 ms at 10000 series\n");
  if (!json_path.empty()) std::ofstream(json_path) << out.dump(2) << "\n";
  return 0;
}
