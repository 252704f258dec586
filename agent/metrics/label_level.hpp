// The Prometheus labels of a flow at each identity granularity (--label-level).
#pragma once

#include <prometheus/labels.h>

#include <optional>
#include <string>
#include <string_view>

#include "agent/label_level.hpp"
#include "agent/model.hpp"

namespace netring::agent::metrics {

using agent::LabelLevel;
using agent::parse_label_level;

// The values one endpoint contributes at a level. Endpoints that are not pods
// get reserved names instead of empty values (an empty label value is the
// same as no label to Prometheus, and would merge unrelated traffic):
// "service/<name>" for a service address nobody resolved to a backend,
// "host" for a node's own address (host-network pods included), "world" for
// anything outside the cluster.
struct EndpointLabels {
  std::string node, ns, workload, pod;
};
EndpointLabels endpoint_labels(const Identity& id);

// Label names per level (src_/dst_ prefixed), in a fixed order, then
// direction, protocol, reporter:
//   node:      src_node dst_node
//   namespace: src_namespace dst_namespace
//   workload:  src_namespace src_workload dst_namespace dst_workload
//   pod:       src_namespace src_pod dst_namespace dst_pod
prometheus::Labels flow_labels(LabelLevel level, const FlowView& flow);
// The src_/dst_ labels of that list alone (kernel event counters).
void add_endpoint_labels(prometheus::Labels& labels, LabelLevel level, const Identity& src, const Identity& dst);
// Appends the values one endpoint gets from add_endpoint_labels at `level`,
// each followed by '\x1f' (no Kubernetes name holds it), without building
// the labels or copying a name: the metrics find a series by such a key every
// publication, for every flow, and build its labels only for a new series.
void append_endpoint_key(std::string& key, LabelLevel level, const Identity& id);

// The src_/dst_ labels of flow_labels alone (DNS: client and server, TCP
// connections: client and server).
prometheus::Labels pair_labels(LabelLevel level, const Identity& src, const Identity& dst);

}  // namespace netring::agent::metrics
