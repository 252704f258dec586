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
      {"volumes", json::parse(R"([{"name": "kube-api-access-x7k2p", "projected": {"defaultMode": 420, "sources": [
          {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
          {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
          {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                      "path": "namespace"}]}}]}}])")},
  };
  if (p.host_network) spec["hostNetwork"] = true;
  json pod_ips = json::array();
  for (const auto& ip : p.ips) pod_ips.push_back({{"ip", ip}});
  json status = {
      {"conditions", json::array({{{"lastProbeTime", nullptr},
                                   {"lastTransitionTime", "2026-11-25T09:12:44Z"},
                                   {"status", "True"},
                                   {"type", "Initialized"}},
                                  {{"lastProbeTime", nullptr},
                                   {"lastTransitionTime", "2026-11-25T09:12:46Z"},
                                   {"status", "True"},
                                   {"type", "Ready"}}})},
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
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata",
           {{"creationTimestamp", "2026-11-25T09:00:00Z"},
            {"labels", {{"app", name}}},
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

json node(const std::string& name, const std::string& internal_ip, const std::string& rv) {
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata",
           {{"labels", {{"kubernetes.io/hostname", name}, {"kubernetes.io/os", "linux"}}},
            {"name", name},
            {"resourceVersion", rv},
            {"uid", fake_uid("node/" + name)}}},
          {"spec", {{"podCIDR", "10.244.0.0/24"}, {"podCIDRs", {"10.244.0.0/24"}}}},
          {"status",
           {{"addresses", json::array({{{"address", internal_ip}, {"type", "InternalIP"}},
                                       {{"address", name}, {"type", "Hostname"}}})},
            {"capacity", {{"cpu", "2"}, {"memory", "24Gi"}, {"pods", "110"}}},
            {"nodeInfo", {{"kubeletVersion", "v1.31.2"}, {"kernelVersion", "6.18.0"}}}}}};
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
