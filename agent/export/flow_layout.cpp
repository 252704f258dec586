#include "agent/export/flow_layout.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cmath>

#include "agent/export/netring_elements.hpp"
#include "pkg/flow/estimator.hpp"

namespace netring::agent::exporter {

namespace {

using ipfix::FieldSpecifier;
namespace ie = ipfix::ie;

std::vector<FieldSpecifier> fields_of(const FieldGroups& g, std::uint32_t pen, bool v6) {
  std::vector<FieldSpecifier> f;
  auto add = [&f](const ipfix::InformationElement& e) { f.push_back(FieldSpecifier::of(e)); };
  add(ie::kFlowId);
  add(ie::kFlowStartMilliseconds);
  add(ie::kFlowEndMilliseconds);
  if (g.totals) {
    add(ie::kOctetTotalCount);
    add(ie::kPacketTotalCount);
  }
  add(ie::kOctetDeltaCount);
  add(ie::kPacketDeltaCount);
  add(v6 ? ie::kSourceIPv6Address : ie::kSourceIPv4Address);
  add(v6 ? ie::kDestinationIPv6Address : ie::kDestinationIPv4Address);
  add(ie::kSourceTransportPort);
  add(ie::kDestinationTransportPort);
  add(v6 ? ie::kIcmpTypeCodeIPv6 : ie::kIcmpTypeCodeIPv4);
  add(ie::kProtocolIdentifier);
  add(ie::kTcpControlBits);
  add(ie::kFlowDirection);
  add(ie::kFlowEndReason);
  if (g.interfaces) {
    add(ie::kIngressInterface);
    add(ie::kEgressInterface);
  }
  add(ie::kSamplingProbability);
  if (g.accuracy) {
    add(ie::kLowerCILimit);
    add(ie::kUpperCILimit);
    add(ie::kConfidenceLevel);
  }
  // Variable-length fields last: the fixed part of every record sits at the
  // same offsets.
  if (g.interfaces) add(ie::kInterfaceName);
  if (g.kubernetes)
    for (const auto& e : kNetringElements) f.push_back({e.id, ipfix::kVariableLength, pen});
  return f;
}

std::uint64_t ms(std::uint64_t ns) {
  return ns / 1'000'000;
}

}  // namespace

FlowLayout::FlowLayout(FieldGroups groups, std::uint32_t enterprise_number) : groups_(groups) {
  // Ids and field counts are fixed above, so creation cannot fail.
  templates_.push_back(ipfix::Template::create(kIpv4TemplateId, fields_of(groups, enterprise_number, false)).value());
  templates_.push_back(ipfix::Template::create(kIpv6TemplateId, fields_of(groups, enterprise_number, true)).value());
}

void FlowLayout::encode(ipfix::Encoder& out, const FlowView& f, const RecordCounts& c,
                        std::string_view interface_name) const {
  const bool v6 = !f.src.is_v4();
  out.u64(f.id);
  out.u64(ms(f.first_seen_ns));
  out.u64(ms(f.last_seen_ns));
  if (groups_.totals) {
    out.u64(c.octet_total);
    out.u64(c.packet_total);
  }
  out.u64(c.octet_delta);
  out.u64(c.packet_delta);
  if (v6) {
    out.bytes(f.src.bytes().data(), 16);
    out.bytes(f.dst.bytes().data(), 16);
  } else {
    out.bytes(f.src.bytes().data() + 12, 4);
    out.bytes(f.dst.bytes().data() + 12, 4);
  }
  const bool icmp = f.protocol == IPPROTO_ICMP || f.protocol == IPPROTO_ICMPV6;
  out.u16(icmp ? 0 : f.src_port);
  out.u16(icmp ? 0 : f.dst_port);
  out.u16(icmp ? static_cast<std::uint16_t>(f.icmp_type << 8 | f.icmp_code) : 0);
  out.u8(f.protocol);
  out.u16(f.tcp_flags);
  // netring's direction is the reporting endpoint's (pod or node): egress =
  // leaving it. Unknown never reaches here (the publisher decides one).
  out.u8(static_cast<std::uint8_t>(f.direction == FlowDirection::kEgress ? ipfix::FlowDirection::kEgress
                                                                         : ipfix::FlowDirection::kIngress));
  out.u8(static_cast<std::uint8_t>(c.end_reason));
  if (groups_.interfaces) {
    out.u32(f.ingress_ifindex);
    out.u32(f.egress_ifindex);
  }
  out.f64(c.sampling_probability);
  if (groups_.accuracy) {
    const double half = c.octet_delta_variance > 0 ? flow::kZ99 * std::sqrt(c.octet_delta_variance) : 0.0;
    const double v = static_cast<double>(c.octet_delta);
    out.f64(std::max(0.0, v - half));
    out.f64(v + half);
    out.f64(kConfidenceLevel);
  }
  if (groups_.interfaces) out.varlen(interface_name);
  if (groups_.kubernetes) {
    const Identity& s = f.src_id;
    const Identity& d = f.dst_id;
    out.varlen(s.ns);
    out.varlen(s.pod);
    out.varlen(s.workload);
    out.varlen(s.kind);
    out.varlen(s.node);
    out.varlen(d.ns);
    out.varlen(d.pod);
    out.varlen(d.workload);
    out.varlen(d.kind);
    out.varlen(d.node);
    out.varlen(d.service);
  }
}

}  // namespace netring::agent::exporter
