// The few fields of a Kubernetes Pod, Service, Node, EndpointSlice or Status
// object the agent needs, as extracted by the SAX parser (agent/k8s/sax.hpp). Every
// string and list is capped, so one object's footprint stays bounded however
// large the JSON it came from.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace netring::agent::k8s {

struct OwnerRef {
  std::string kind;
  std::string name;
  bool controller = false;
};

struct ServicePort {
  std::string protocol = "TCP";  // the API's default when omitted
  uint16_t port = 0;
  uint16_t node_port = 0;
};

struct NodeAddress {
  std::string type;  // InternalIP, ExternalIP, Hostname, ...
  std::string address;
};

// One endpoint of an EndpointSlice: its addresses and what they belong to.
struct SliceEndpoint {
  std::vector<std::string> addresses;
  std::string target_kind;  // targetRef.kind: "Pod", or empty for an address that is no pod
};

struct Object {
  std::string kind;  // present in watch events and kubectl output; absent on API list items
  std::string name;
  std::string namespace_;
  std::string uid;
  std::string resource_version;
  bool deleting = false;            // metadata.deletionTimestamp set
  bool initial_events_end = false;  // BOOKMARK annotated k8s.io/initial-events-end (watch-list)
  std::string pod_template_hash;    // metadata.labels["pod-template-hash"]
  std::vector<OwnerRef> owners;

  // Pod
  std::string node_name;
  bool host_network = false;
  std::string phase;
  std::string pod_ip;
  std::vector<std::string> pod_ips;
  std::string host_ip;

  // Service
  std::string service_type;
  std::string cluster_ip;
  std::vector<std::string> cluster_ips;
  std::vector<ServicePort> ports;

  // Node
  std::vector<NodeAddress> addresses;
  std::string pod_cidr;
  std::vector<std::string> pod_cidrs;

  // EndpointSlice (discovery.k8s.io/v1)
  std::string service_name;  // metadata.labels["kubernetes.io/service-name"]
  std::string address_type;  // IPv4, IPv6, FQDN
  std::vector<SliceEndpoint> endpoints;

  // Status (kind "Status": error responses and watch ERROR events)
  int64_t code = 0;
  std::string reason;
  std::string message;
};

// Caps applied by the parser.
inline constexpr size_t kMaxNameLen = 253;      // DNS subdomain
inline constexpr size_t kMaxShortLen = 128;     // IPs, kinds, phases, resource versions
inline constexpr size_t kMaxMessageLen = 1024;  // Status.message
inline constexpr size_t kMaxContinueLen = 16384;
inline constexpr size_t kMaxListEntries = 16;  // owners, IPs, addresses per object
inline constexpr size_t kMaxPorts = 128;
inline constexpr size_t kMaxEndpoints = 1000;  // the API's own limit per EndpointSlice

}  // namespace netring::agent::k8s
