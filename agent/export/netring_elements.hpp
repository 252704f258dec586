// netring's own Information Elements: the Kubernetes names of both ends of a
// flow, as variable-length strings, under a Private Enterprise Number (RFC
// 7011 section 3.2). The IANA registry has no element for a pod, a namespace
// or a workload, and the collectors people run read strings from enterprise
// elements (pmacct: aggregate_primitives with field_type=<PEN>:<id>,
// len=vlen, semantics=str). The number is configurable
// (--ipfix-enterprise-number); the ids below are netring's and stay the same
// across versions. doc/ipfix.md lists them with a pmacct primitives file.
#pragma once

#include <array>
#include <cstdint>

namespace netring::agent::exporter {

struct NetringElement {
  std::uint16_t id;
  const char* name;
};

// In record order.
inline constexpr std::array<NetringElement, 11> kNetringElements{{
    {1, "sourcePodNamespace"},
    {2, "sourcePodName"},
    {3, "sourceWorkloadName"},
    {4, "sourceWorkloadKind"},
    {5, "sourceNodeName"},
    {6, "destinationPodNamespace"},
    {7, "destinationPodName"},
    {8, "destinationWorkloadName"},
    {9, "destinationWorkloadKind"},
    {10, "destinationNodeName"},
    {11, "destinationServiceName"},
}};

}  // namespace netring::agent::exporter
