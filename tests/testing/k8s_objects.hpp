// Kubernetes objects shaped exactly like the API server returns them, for the
// metadata tests and the API load harness: full pods with containers,
// volumes, conditions, statuses and the managedFields every object carries
// (kubectl hides them; the API sends them), not only the fields the agent
// reads, so that byte counts are those of a real cluster.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace netring::testing::k8s {

struct PodSpec {
  std::string ns = "default";
  std::string name{};
  std::string uid{};         // generated from the name when empty
  std::string owner_kind{};  // "", ReplicaSet, StatefulSet, DaemonSet, Job, Node
  std::string owner_name{};
  std::string template_hash{};     // pod-template-hash label (ReplicaSet pods)
  std::vector<std::string> ips{};  // status.podIPs; first is status.podIP
  std::string node = "node-a";
  std::string host_ip = "192.168.49.2";
  bool host_network = false;
  std::string phase = "Running";
  std::string resource_version = "1000";
};

nlohmann::json pod(const PodSpec& p);
nlohmann::json service(const std::string& ns, const std::string& name, const std::vector<std::string>& cluster_ips,
                       const std::string& rv, int node_port = 0);
// pod_cidr: spec.podCIDR(s), when the cluster allocates node ranges ("" = none).
nlohmann::json node(const std::string& name, const std::string& internal_ip, const std::string& rv,
                    const std::string& pod_cidr = "");

// An EndpointSlice (discovery.k8s.io/v1) of `service`. An endpoint with a
// `pod` name has a Pod targetRef; one without is an address no pod owns.
struct SliceEndpoint {
  std::string ip;
  std::string pod{};
  std::string node{};
};
// managed_by: the endpointslice.kubernetes.io/managed-by label ("" = none,
// as on the API server's own "kubernetes" slice).
nlohmann::json endpoint_slice(const std::string& ns, const std::string& name, const std::string& service,
                              const std::vector<SliceEndpoint>& endpoints, const std::string& managed_by,
                              const std::string& rv);

// {"apiVersion":"v1","kind":"PodList","metadata":{"resourceVersion":..,"continue":..},"items":[...]}
nlohmann::json list(const std::string& kind, const std::vector<nlohmann::json>& items, const std::string& rv,
                    const std::string& continue_token = "");
// A Status object like the API server's 410 Gone.
nlohmann::json status_gone(const std::string& message);
// One watch stream line (with the trailing newline).
std::string watch_line(const std::string& type, const nlohmann::json& object);
// A BOOKMARK event object: only kind, apiVersion and metadata.resourceVersion.
nlohmann::json bookmark(const std::string& kind, const std::string& rv);

}  // namespace netring::testing::k8s
