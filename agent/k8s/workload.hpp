// The workload a pod belongs to, derived from its ownerReferences alone (no
// extra API calls): a ReplicaSet named <deployment>-<pod-template-hash> is a
// Deployment's, a Job named <cronjob>-<scheduled minute> is a CronJob's,
// StatefulSet/DaemonSet/others are taken as they are, a static pod (owned by
// its Node) is named without the "-<node>" suffix, and a bare pod is its own
// workload.
#pragma once

#include <string>

#include "agent/k8s/object.hpp"

namespace netring::agent::k8s {

struct Workload {
  std::string kind;
  std::string name;
  bool operator==(const Workload&) const = default;
};

Workload derive_workload(const Object& pod);

}  // namespace netring::agent::k8s
