// Parsing a Kubernetes PodList: netring's SAX extraction (agent/k8s/sax.hpp)
// against the reference, nlohmann::json's DOM parse followed by reading the
// same fields. Both run alternately in the same process on the same bytes;
// the median of 7 rounds and the ratio are printed, with the heap the DOM
// holds at its peak next to what the SAX path holds.
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/k8s/sax.hpp"
#include "tests/testing/k8s_objects.hpp"

namespace {

using namespace netring::agent::k8s;
namespace fx = netring::testing::k8s;
using Clock = std::chrono::steady_clock;

// The reference: a full DOM, then the fields the agent needs.
size_t dom_extract(const std::string& doc, size_t* peak_heap) {
  size_t before = peak_heap ? mallinfo2().uordblks : 0;
  auto j = nlohmann::json::parse(doc);
  if (peak_heap) *peak_heap = mallinfo2().uordblks - before;
  size_t n = 0;
  for (const auto& item : j["items"]) {
    Object o;
    const auto& m = item["metadata"];
    o.name = m.value("name", "");
    o.namespace_ = m.value("namespace", "");
    o.uid = m.value("uid", "");
    if (m.contains("ownerReferences")) {
      for (const auto& r : m["ownerReferences"])
        o.owners.push_back({r.value("kind", ""), r.value("name", ""), r.value("controller", false)});
    }
    o.host_network = item["spec"].value("hostNetwork", false);
    o.node_name = item["spec"].value("nodeName", "");
    if (item["status"].contains("podIPs")) {
      for (const auto& ip : item["status"]["podIPs"]) o.pod_ips.push_back(ip.value("ip", ""));
    }
    n += !o.name.empty();
  }
  return n;
}

size_t sax_extract(const std::string& doc, size_t* peak_heap) {
  size_t before = peak_heap ? mallinfo2().uordblks : 0;
  size_t n = 0, peak = 0;
  auto info = parse_list(doc, [&](Object&& o) {
    n += !o.name.empty();
    // mallinfo2() walks the heap: sample it, or it dominates the timing.
    if (peak_heap && n % 1000 == 1) peak = std::max(peak, mallinfo2().uordblks - before);
  });
  if (peak_heap) *peak_heap = peak;
  return info.ok() ? n : 0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

// k8s_list_bench [--json FILE]
int main(int argc, char** argv) {
  const std::string json_path = argc > 2 && std::string(argv[1]) == "--json" ? argv[2] : "";
  constexpr int kPods = 5000;
  std::vector<nlohmann::json> pods;
  for (int i = 0; i < kPods; ++i) {
    pods.push_back(fx::pod({.ns = "ns" + std::to_string(i % 40),
                            .name = "app-5d8f7c6b4-" + std::to_string(i),
                            .owner_kind = "ReplicaSet",
                            .owner_name = "app-5d8f7c6b4",
                            .template_hash = "5d8f7c6b4",
                            .ips = {"10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250)}}));
  }
  const std::string doc = fx::list("PodList", pods, "123456").dump();
  pods.clear();

  std::vector<double> sax_ms, dom_ms;
  size_t sax_heap = 0, dom_heap = 0;
  // Heap first, in a round of its own: measuring it costs time.
  sax_extract(doc, &sax_heap);
  dom_extract(doc, &dom_heap);
  for (int round = 0; round < 7; ++round) {
    auto t0 = Clock::now();
    size_t a = sax_extract(doc, nullptr);
    auto t1 = Clock::now();
    size_t b = dom_extract(doc, nullptr);
    auto t2 = Clock::now();
    if (a != kPods || b != kPods) {
      std::fprintf(stderr, "mismatch: sax %zu dom %zu\n", a, b);
      return 1;
    }
    sax_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    dom_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
  }
  double s = median(sax_ms), d = median(dom_ms);
  std::printf("PodList of %d pods, %zu bytes, median of 7 alternating rounds\n", kPods, doc.size());
  std::printf("  netring SAX extraction : %8.1f ms  %6.1f MB/s  peak heap %9.1f KB\n", s, doc.size() / s / 1e3,
              sax_heap / 1e3);
  std::printf("  nlohmann DOM reference : %8.1f ms  %6.1f MB/s  peak heap %9.1f KB\n", d, doc.size() / d / 1e3,
              dom_heap / 1e3);
  std::printf("  time ratio DOM/SAX %.2fx\n", d / s);
  if (!json_path.empty())
    std::ofstream(json_path)
        << nlohmann::json{{"pods", kPods},    {"bytes", doc.size()},       {"sax_ms", sax_ms},
                          {"dom_ms", dom_ms}, {"sax_peak_heap", sax_heap}, {"dom_peak_heap", dom_heap}}
               .dump(2)
        << "\n";
  return 0;
}
