#include "agent/k8s/workload.hpp"

#include <algorithm>
#include <string_view>

namespace netring::agent::k8s {
namespace {

// The Deployment controller names ReplicaSets <deployment>-<hash> where the
// hash is rand.SafeEncodeString(fnv32 of the pod template): characters from
// "bcdfghjklmnpqrstvwxz2456789" (no vowels, no 0/1/3), today 8-10 long.
bool looks_like_template_hash(std::string_view s) {
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  if (s.size() < 5 || s.size() > 10) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return kAlphabet.find(c) != std::string_view::npos; });
}

std::string_view strip_suffix(std::string_view name, std::string_view suffix) {
  if (name.size() > suffix.size() + 1 && name.substr(name.size() - suffix.size()) == suffix &&
      name[name.size() - suffix.size() - 1] == '-') {
    return name.substr(0, name.size() - suffix.size() - 1);
  }
  return {};
}

const OwnerRef* controller_of(const Object& pod) {
  for (const auto& o : pod.owners) {
    if (o.controller) return &o;
  }
  return pod.owners.empty() ? nullptr : &pod.owners.front();
}

}  // namespace

Workload derive_workload(const Object& pod) {
  const OwnerRef* owner = controller_of(pod);
  if (!owner || owner->name.empty()) return {"Pod", pod.name};
  std::string_view name = owner->name;

  if (owner->kind == "ReplicaSet") {
    // Prefer the pod's own pod-template-hash label: exact, whatever the hash looks like.
    if (!pod.pod_template_hash.empty()) {
      if (auto d = strip_suffix(name, pod.pod_template_hash); !d.empty()) return {"Deployment", std::string(d)};
    }
    size_t dash = name.rfind('-');
    if (dash != std::string_view::npos && dash > 0 && looks_like_template_hash(name.substr(dash + 1))) {
      return {"Deployment", std::string(name.substr(0, dash))};
    }
    return {"ReplicaSet", owner->name};
  }
  if (owner->kind == "Job") {
    // The CronJob controller names Jobs <cronjob>-<scheduled time in minutes since the epoch>.
    size_t dash = name.rfind('-');
    if (dash != std::string_view::npos && dash > 0) {
      std::string_view suffix = name.substr(dash + 1);
      if (suffix.size() >= 8 && suffix.size() <= 12 &&
          std::all_of(suffix.begin(), suffix.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return {"CronJob", std::string(name.substr(0, dash))};
      }
    }
    return {"Job", owner->name};
  }
  if (owner->kind == "Node") {
    // Mirror pods of static manifests are named <manifest name>-<node name>.
    std::string_view node = pod.node_name.empty() ? name : std::string_view(pod.node_name);
    if (auto base = strip_suffix(pod.name, node); !base.empty()) return {"StaticPod", std::string(base)};
    return {"StaticPod", pod.name};
  }
  return {owner->kind, owner->name};
}

}  // namespace netring::agent::k8s
