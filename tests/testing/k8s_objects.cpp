#include "tests/testing/k8s_objects.hpp"

#include <functional>

namespace netring::testing::k8s {

using json = nlohmann::json;

namespace {
std::string fake_uid(const std::string& seed) {
  char buf[40];
  size_t h = std::hash<std::string>{}(seed);
  std::snprintf(buf, sizeof buf, "%08zx-%04zx-4%03zx-8%03zx-%012zx", h & 0xffffffff, (h >> 32) & 0xffff,
                (h >> 8) & 0xfff, (h >> 20) & 0xfff, (h * 31) & 0xffffffffffff);
  return buf;
}
}  // namespace

json pod(const PodSpec& p) {
  // Parsed once: the API load harness builds 150,000 of these.
  static const json kVolumes = json::parse(R"([{"name": "kube-api-access-x7k2p", "projected": {"defaultMode": 420,
      "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
      {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
      {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                  "path": "namespace"}]}}]}}])");
  std::string uid = p.uid.empty() ? fake_uid(p.ns + "/" + p.name) : p.uid;
  json labels = {{"app", p.owner_name.empty() ? p.name : p.owner_name}};
  if (!p.template_hash.empty()) labels["pod-template-hash"] = p.template_hash;
  json meta = {
      {"annotations", {{"kubectl.kubernetes.io/restartedAt", "2026-11-20T10:00:00Z"}}},
      {"creationTimestamp", "2026-11-25T09:12:44Z"},
      {"labels", labels},
      {"name", p.name},
      {"namespace", p.ns},
      {"resourceVersion", p.resource_version},
      {"uid", uid},
  };
  // What the pod's managers wrote: the controller (or kubectl) the spec, the
  // kubelet the status (metadata.managedFields, server-side apply).
  static const json spec_fields =
      json::parse(R"({"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{
      "k:{\"name\":\"app\"}":{".":{},"f:args":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:ports":{".":{},
      "k:{\"containerPort\":8080,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:name":{},"f:protocol":{}}},
      "f:resources":{".":{},"f:limits":{".":{},"f:memory":{}},"f:requests":{".":{},"f:cpu":{}}},
      "f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:enableServiceLinks":{},
      "f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},"f:terminationGracePeriodSeconds":{}}})");
  static const json status_fields = json::parse(R"({"f:status":{"f:conditions":{
      "k:{\"type\":\"ContainersReady\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},
      "k:{\"type\":\"Initialized\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},
      "k:{\"type\":\"PodReadyToStartContainers\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},
      "k:{\"type\":\"Ready\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}}},
      "f:containerStatuses":{},"f:hostIP":{},"f:hostIPs":{},"f:phase":{},"f:podIP":{},"f:podIPs":{},"f:startTime":{}}})");
  json managed = json::array();
  managed.push_back({{"apiVersion", "v1"},
                     {"fieldsType", "FieldsV1"},
                     {"fieldsV1", spec_fields},
                     {"manager", p.owner_kind.empty() ? "kubectl-create" : "kube-controller-manager"},
                     {"operation", "Update"},
                     {"time", "2026-11-25T09:12:44Z"}});
  managed.push_back({{"apiVersion", "v1"},
                     {"fieldsType", "FieldsV1"},
                     {"fieldsV1", status_fields},
                     {"manager", "kubelet"},
                     {"operation", "Update"},
                     {"subresource", "status"},
                     {"time", "2026-11-25T09:12:46Z"}});
  meta["managedFields"] = managed;
  if (!p.owner_kind.empty()) {
    meta["generateName"] = p.owner_name + "-";
    std::string api = p.owner_kind == "Job" ? "batch/v1" : p.owner_kind == "Node" ? "v1" : "apps/v1";
    meta["ownerReferences"] = json::array({{{"apiVersion", api},
                                            {"blockOwnerDeletion", true},
                                            {"controller", true},
                                            {"kind", p.owner_kind},
                                            {"name", p.owner_name},
                                            {"uid", fake_uid(p.owner_name)}}});
  }
  json spec = {
      {"containers",
       json::array({{{"image", "registry.k8s.io/e2e-test-images/agnhost:2.43"},
                     {"imagePullPolicy", "IfNotPresent"},
                     {"name", "app"},
                     {"args", {"netexec", "--http-port=8080"}},
                     {"ports", json::array({{{"containerPort", 8080}, {"name", "http"}, {"protocol", "TCP"}}})},
                     {"resources", {{"limits", {{"memory", "128Mi"}}}, {"requests", {{"cpu", "10m"}}}}},
                     {"terminationMessagePath", "/dev/termination-log"},
                     {"terminationMessagePolicy", "File"},
                     {"volumeMounts", json::array({{{"mountPath", "/var/run/secrets/kubernetes.io/serviceaccount"},
                                                    {"name", "kube-api-access-x7k2p"},
                                                    {"readOnly", true}}})}}})},
      {"dnsPolicy", p.host_network ? "ClusterFirstWithHostNet" : "ClusterFirst"},
      {"enableServiceLinks", true},
      {"nodeName", p.node},
      {"preemptionPolicy", "PreemptLowerPriority"},
      {"priority", 0},
      {"restartPolicy", "Always"},
      {"schedulerName", "default-scheduler"},
      {"securityContext", json::object()},
      {"serviceAccount", "default"},
      {"serviceAccountName", "default"},
      {"terminationGracePeriodSeconds", 30},
      {"tolerations", json::array({{{"effect", "NoExecute"},
                                    {"key", "node.kubernetes.io/not-ready"},
                                    {"operator", "Exists"},
                                    {"tolerationSeconds", 300}}})},
      {"volumes", kVolumes},
  };
  if (p.host_network) spec["hostNetwork"] = true;
  json pod_ips = json::array();
  for (const auto& ip : p.ips) pod_ips.push_back({{"ip", ip}});
  json status = {
      {"conditions",
       [] {
         json c = json::array();
         for (const char* t : {"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"})
           c.push_back({{"lastProbeTime", nullptr},
                        {"lastTransitionTime", "2026-11-25T09:12:46Z"},
                        {"status", "True"},
                        {"type", t}});
         return c;
       }()},
      {"containerStatuses",
       json::array({{{"containerID", "containerd://5f2b8c0d1e"},
                     {"image", "registry.k8s.io/e2e-test-images/agnhost:2.43"},
                     {"imageID", "registry.k8s.io/e2e-test-images/agnhost@sha256:16bbf38c463a4223d8cfe4da12bc61010b"},
                     {"lastState", json::object()},
                     {"name", "app"},
                     {"ready", true},
                     {"restartCount", 0},
                     {"started", true},
                     {"state", {{"running", {{"startedAt", "2026-11-25T09:12:45Z"}}}}}}})},
      {"hostIP", p.host_ip},
      {"hostIPs", json::array({{{"ip", p.host_ip}}})},
      {"phase", p.phase},
      {"qosClass", "Burstable"},
      {"startTime", "2026-11-25T09:12:44Z"},
  };
  if (!p.ips.empty()) {
    status["podIP"] = p.ips.front();
    status["podIPs"] = pod_ips;
  }
  return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta}, {"spec", spec}, {"status", status}};
}

json service(const std::string& ns, const std::string& name, const std::vector<std::string>& cluster_ips,
             const std::string& rv, int node_port) {
  json port = {{"name", "http"}, {"port", 80}, {"protocol", "TCP"}, {"targetPort", 8080}};
  if (node_port) port["nodePort"] = node_port;
  static const json fields =
      json::parse(R"({"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:internalTrafficPolicy":{},
      "f:ports":{".":{},"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:name":{},"f:port":{},"f:protocol":{},
      "f:targetPort":{}}},"f:selector":{},"f:sessionAffinity":{},"f:type":{}}})");
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata",
           {{"creationTimestamp", "2026-11-25T09:00:00Z"},
            {"labels", {{"app", name}}},
            {"managedFields", json::array({{{"apiVersion", "v1"},
                                            {"fieldsType", "FieldsV1"},
                                            {"fieldsV1", fields},
                                            {"manager", "kubectl-client-side-apply"},
                                            {"operation", "Update"},
                                            {"time", "2026-11-25T09:00:00Z"}}})},
            {"name", name},
            {"namespace", ns},
            {"resourceVersion", rv},
            {"uid", fake_uid("svc/" + ns + "/" + name)}}},
          {"spec",
           {{"clusterIP", cluster_ips.empty() ? "None" : cluster_ips.front()},
            {"clusterIPs", cluster_ips.empty() ? json::array({"None"}) : json(cluster_ips)},
            {"internalTrafficPolicy", "Cluster"},
            {"ipFamilies", {"IPv4"}},
            {"ipFamilyPolicy", "SingleStack"},
            {"ports", json::array({port})},
            {"selector", {{"app", name}}},
            {"sessionAffinity", "None"},
            {"type", node_port ? "NodePort" : "ClusterIP"}}},
          {"status", {{"loadBalancer", json::object()}}}};
}

json node(const std::string& name, const std::string& internal_ip, const std::string& rv, const std::string& pod_cidr) {
  json conditions = json::array();
  for (const char* t : {"MemoryPressure", "DiskPressure", "PIDPressure", "Ready"}) {
    bool ready = std::string(t) == "Ready";
    conditions.push_back({{"lastHeartbeatTime", "2026-11-25T09:10:00Z"},
                          {"lastTransitionTime", "2026-11-20T08:00:00Z"},
                          {"message", ready ? "kubelet is posting ready status" : "kubelet has sufficient resources"},
                          {"reason", ready ? "KubeletReady" : std::string("KubeletHas") + "Sufficient" + t},
                          {"status", ready ? "True" : "False"},
                          {"type", t}});
  }
  json images = json::array();
  for (const char* img : {"registry.k8s.io/kube-proxy:v1.31.2", "registry.k8s.io/pause:3.10",
                          "registry.k8s.io/coredns/coredns:v1.11.3", "registry.k8s.io/e2e-test-images/agnhost:2.43",
                          "docker.io/library/nginx:1.27", "quay.io/prometheus/node-exporter:v1.8.2",
                          "netring-agent:0.1.0", "registry.k8s.io/metrics-server/metrics-server:v0.7.2"}) {
    images.push_back({{"names",
                       {std::string(img),
                        std::string(img) + "@sha256:3f2b8a4c1d9e7f60b5a2c8d1e4f7a9b2c5d8e1f4a7b0c3d6e9f2a5b8c1d4e7f0"}},
                      {"sizeBytes", 31462733}});
  }
  json spec = json::object();
  if (!pod_cidr.empty()) spec = {{"podCIDR", pod_cidr}, {"podCIDRs", {pod_cidr}}};
  static const json kubelet_fields = json::parse(R"({"f:status":{"f:conditions":{"k:{\"type\":\"DiskPressure\"}":{
      "f:lastHeartbeatTime":{}},"k:{\"type\":\"MemoryPressure\"}":{"f:lastHeartbeatTime":{}},
      "k:{\"type\":\"PIDPressure\"}":{"f:lastHeartbeatTime":{}},"k:{\"type\":\"Ready\"}":{"f:lastHeartbeatTime":{},
      "f:lastTransitionTime":{},"f:message":{},"f:reason":{},"f:status":{}}},"f:images":{},"f:nodeInfo":{
      "f:bootID":{},"f:kernelVersion":{},"f:kubeletVersion":{}}}})");
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata",
           {{"annotations",
             {{"kubeadm.alpha.kubernetes.io/cri-socket", "unix:///var/run/containerd/containerd.sock"},
              {"node.alpha.kubernetes.io/ttl", "0"},
              {"volumes.kubernetes.io/controller-managed-attach-detach", "true"}}},
            {"creationTimestamp", "2026-11-20T08:00:00Z"},
            {"labels",
             {{"beta.kubernetes.io/arch", "amd64"},
              {"beta.kubernetes.io/os", "linux"},
              {"kubernetes.io/arch", "amd64"},
              {"kubernetes.io/hostname", name},
              {"kubernetes.io/os", "linux"},
              {"topology.kubernetes.io/zone", "zone-a"}}},
            {"managedFields", json::array({{{"apiVersion", "v1"},
                                            {"fieldsType", "FieldsV1"},
                                            {"fieldsV1", kubelet_fields},
                                            {"manager", "kubelet"},
                                            {"operation", "Update"},
                                            {"subresource", "status"},
                                            {"time", "2026-11-25T09:10:00Z"}}})},
            {"name", name},
            {"resourceVersion", rv},
            {"uid", fake_uid("node/" + name)}}},
          {"spec", spec},
          {"status",
           {{"addresses", json::array({{{"address", internal_ip}, {"type", "InternalIP"}},
                                       {{"address", name}, {"type", "Hostname"}}})},
            {"allocatable", {{"cpu", "2"}, {"ephemeral-storage", "47217563898"}, {"memory", "24Gi"}, {"pods", "110"}}},
            {"capacity", {{"cpu", "2"}, {"ephemeral-storage", "51233412Ki"}, {"memory", "24Gi"}, {"pods", "110"}}},
            {"conditions", conditions},
            {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", 10250}}}}},
            {"images", images},
            {"nodeInfo",
             {{"architecture", "amd64"},
              {"bootID", "5c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"},
              {"containerRuntimeVersion", "containerd://1.7.22"},
              {"kernelVersion", "6.18.0"},
              {"kubeProxyVersion", "v1.31.2"},
              {"kubeletVersion", "v1.31.2"},
              {"machineID", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"},
              {"operatingSystem", "linux"},
              {"osImage", "Debian GNU/Linux 12 (bookworm)"},
              {"systemUUID", "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}}}}}};
}

json endpoint_slice(const std::string& ns, const std::string& name, const std::string& service,
                    const std::vector<SliceEndpoint>& endpoints, const std::string& managed_by, const std::string& rv) {
  json labels = {{"kubernetes.io/service-name", service}};
  if (!managed_by.empty()) labels["endpointslice.kubernetes.io/managed-by"] = managed_by;
  json eps = json::array();
  for (const auto& e : endpoints) {
    json ep = {{"addresses", {e.ip}}, {"conditions", {{"ready", true}, {"serving", true}, {"terminating", false}}}};
    if (!e.node.empty()) ep["nodeName"] = e.node;
    if (!e.pod.empty())
      ep["targetRef"] = {{"kind", "Pod"}, {"name", e.pod}, {"namespace", ns}, {"uid", fake_uid(ns + "/" + e.pod)}};
    eps.push_back(ep);
  }
  return {{"addressType", endpoints.empty() || endpoints[0].ip.find(':') == std::string::npos ? "IPv4" : "IPv6"},
          {"apiVersion", "discovery.k8s.io/v1"},
          {"endpoints", eps},
          {"kind", "EndpointSlice"},
          {"metadata",
           {{"creationTimestamp", "2026-11-25T09:00:00Z"},
            {"generation", 1},
            {"labels", labels},
            {"name", name},
            {"namespace", ns},
            {"resourceVersion", rv},
            {"uid", fake_uid("eps/" + ns + "/" + name)}}},
          {"ports", json::array({{{"name", "https"}, {"port", 6443}, {"protocol", "TCP"}}})}};
}

json list(const std::string& kind, const std::vector<json>& items, const std::string& rv,
          const std::string& continue_token) {
  json meta = {{"resourceVersion", rv}};
  if (!continue_token.empty()) {
    meta["continue"] = continue_token;
    meta["remainingItemCount"] = 1;
  }
  // Items of an API list carry no kind/apiVersion; kubectl adds them (see pods_file tests).
  json arr = json::array();
  for (json it : items) {
    it.erase("kind");
    it.erase("apiVersion");
    arr.push_back(std::move(it));
  }
  return {{"apiVersion", "v1"}, {"items", arr}, {"kind", kind}, {"metadata", meta}};
}

json status_gone(const std::string& message) {
  return {{"apiVersion", "v1"},         {"code", 410},         {"kind", "Status"},   {"message", message},
          {"metadata", json::object()}, {"reason", "Expired"}, {"status", "Failure"}};
}

std::string watch_line(const std::string& type, const json& object) {
  return json{{"type", type}, {"object", object}}.dump() + "\n";
}

json bookmark(const std::string& kind, const std::string& rv) {
  return {{"apiVersion", "v1"},
          {"kind", kind},
          {"metadata", {{"resourceVersion", rv}, {"annotations", {{"k8s.io/initial-events-end", "true"}}}}}};
}

}  // namespace netring::testing::k8s
