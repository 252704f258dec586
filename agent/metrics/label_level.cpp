#include "agent/metrics/label_level.hpp"

namespace netring::agent::metrics {

EndpointLabels endpoint_labels(const Identity& id) {
  EndpointLabels l;
  l.node = id.node.empty() ? "world" : id.node;
  if (id.is_pod()) {
    l.ns = id.ns;
    l.workload = id.workload.empty() ? id.pod : id.workload;
    l.pod = id.pod;
    return l;
  }
  std::string reserved = !id.service.empty() ? "service/" + id.service : !id.node.empty() ? "host" : "world";
  l.ns = id.ns;
  l.workload = reserved;
  l.pod = std::move(reserved);
  return l;
}

void add_endpoint_labels(prometheus::Labels& labels, LabelLevel level, const Identity& src, const Identity& dst) {
  const EndpointLabels s = endpoint_labels(src);
  const EndpointLabels d = endpoint_labels(dst);
  switch (level) {
    case LabelLevel::kNode:
      labels.emplace("src_node", s.node);
      labels.emplace("dst_node", d.node);
      break;
    case LabelLevel::kNamespace:
      labels.emplace("src_namespace", s.ns);
      labels.emplace("dst_namespace", d.ns);
      break;
    case LabelLevel::kWorkload:
      labels.emplace("src_namespace", s.ns);
      labels.emplace("src_workload", s.workload);
      labels.emplace("dst_namespace", d.ns);
      labels.emplace("dst_workload", d.workload);
      break;
    case LabelLevel::kPod:
      labels.emplace("src_namespace", s.ns);
      labels.emplace("src_pod", s.pod);
      labels.emplace("dst_namespace", d.ns);
      labels.emplace("dst_pod", d.pod);
      break;
  }
}

void append_endpoint_key(std::string& key, LabelLevel level, const Identity& id) {
  auto put = [&key](std::string_view a, std::string_view b = {}) { key.append(a).append(b).push_back('\x1f'); };
  // The reserved name endpoint_labels gives what is not a pod, in two parts.
  std::string_view reserved_a, reserved_b;
  if (!id.is_pod()) {
    if (!id.service.empty()) {
      reserved_a = "service/";
      reserved_b = id.service;
    } else {
      reserved_a = id.node.empty() ? "world" : "host";
    }
  }
  switch (level) {
    case LabelLevel::kNode: put(id.node.empty() ? std::string_view("world") : std::string_view(id.node)); break;
    case LabelLevel::kNamespace: put(id.ns); break;
    case LabelLevel::kWorkload:
      put(id.ns);
      if (id.is_pod())
        put(id.workload.empty() ? id.pod : id.workload);
      else
        put(reserved_a, reserved_b);
      break;
    case LabelLevel::kPod:
      put(id.ns);
      if (id.is_pod())
        put(id.pod);
      else
        put(reserved_a, reserved_b);
      break;
  }
}

prometheus::Labels pair_labels(LabelLevel level, const Identity& src, const Identity& dst) {
  prometheus::Labels labels;
  add_endpoint_labels(labels, level, src, dst);
  return labels;
}

prometheus::Labels flow_labels(LabelLevel level, const FlowView& flow) {
  prometheus::Labels labels;
  add_endpoint_labels(labels, level, flow.src_id, flow.dst_id);
  labels.emplace("direction", to_string(flow.direction));
  labels.emplace("protocol", protocol_name(flow.protocol));
  labels.emplace("reporter", to_string(flow.reporter));
  return labels;
}

}  // namespace netring::agent::metrics
