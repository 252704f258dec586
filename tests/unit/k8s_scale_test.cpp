// The API load harness (tests/testing/k8s_scale.hpp) at a small scale,
// against a FAKE API server (no real kube-apiserver can run on the test
// machines): agents watching only their node's pods receive a small
// fraction of what agents watching every pod receive, under the same churn,
// and name their peers as correctly. The figures at 150,000 pods come from
// bench/k8s_scale_bench.cpp; this checks behaviour, not speed.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "agent/log.hpp"
#include "tests/testing/k8s_scale.hpp"

namespace {

using namespace netring::testing;
using netring::agent::KubePods;
using namespace std::chrono_literals;

TEST(K8sScale, NodeScopedAgentsReceiveAFractionAndAnswerAsWell) {
  netring::log::configure(netring::log::Level::kWarn, netring::log::Format::kLogfmt);
  ScaleOptions o;
  o.pods = 2000;
  o.services = 100;
  o.nodes = 40;
  o.churn = 50;
  o.peers = 40;
  ScaleCluster cluster(o);

  std::vector<std::unique_ptr<ScaleAgent>> ref, lean;
  for (int i = 0; i < 2; ++i) ref.push_back(std::make_unique<ScaleAgent>(cluster, i, KubePods::kCluster));
  for (int i = 0; i < 3; ++i) lean.push_back(std::make_unique<ScaleAgent>(cluster, 2 + i, KubePods::kNode));
  for (auto* v : {&ref, &lean})
    for (auto& a : *v) ASSERT_TRUE(a->wait_synced(60s));
  for (auto& a : ref) EXPECT_EQ(a->index_stats().pods, 2000u);
  for (auto& a : lean) EXPECT_EQ(a->index_stats().pods, 50u);  // its node's pods only

  // Every agent names its peers before the churn starts (the lean ones by lookups).
  auto settle = [&] {
    for (int round = 0; round < 120; ++round) {
      bool all = true;
      for (auto* v : {&ref, &lean})
        for (auto& a : *v) {
          auto r = a->resolve_peers();
          all = all && r.unknown == 0 && r.wrong == 0;
        }
      if (all) return true;
      std::this_thread::sleep_for(500ms);
    }
    return false;
  };
  ASSERT_TRUE(settle());
  for (auto& a : lean) EXPECT_GT(a->index_stats().remote_pods, 0u);

  std::vector<ScaleAgent::Counters> r0, l0;
  for (auto& a : ref) r0.push_back(a->counters());
  for (auto& a : lean) l0.push_back(a->counters());
  uint64_t e0 = cluster.pod_events();
  cluster.start_churn();
  for (int s = 0; s < 6; ++s) {
    std::this_thread::sleep_for(1s);
    for (auto* v : {&ref, &lean})
      for (auto& a : *v) a->resolve_peers();  // the publisher's rounds: lookups of new peers
  }
  cluster.stop_churn();
  double events = static_cast<double>(cluster.pod_events() - e0);
  ASSERT_GT(events, 100);

  double ref_bytes = 0, lean_bytes = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    auto c = ref[i]->counters();
    ref_bytes += static_cast<double>(c.bytes - r0[i].bytes) / ref.size();
    EXPECT_GE(c.objects - r0[i].objects, static_cast<uint64_t>(events * 0.9));  // every pod event reached it
  }
  for (size_t i = 0; i < lean.size(); ++i) {
    auto c = lean[i]->counters();
    lean_bytes += static_cast<double>(c.bytes - l0[i].bytes) / lean.size();
    EXPECT_LT(c.objects - l0[i].objects, static_cast<uint64_t>(events / 5));
  }
  std::printf("per agent per pod event: every pod watched %.0f B, this node's + lookups %.0f B (%.1fx)\n",
              ref_bytes / events, lean_bytes / events, ref_bytes / std::max(lean_bytes, 1.0));
  EXPECT_GT(ref_bytes, 10 * lean_bytes);

  // After the churn, both kinds of agent name every peer right.
  ASSERT_TRUE(settle());
}

}  // namespace
