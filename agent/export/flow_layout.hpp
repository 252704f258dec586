// The layout of netring's flow records: which Information Elements, in which
// order, for IPv4 flows (template 256) and IPv6 flows (template 257), and
// the one function that writes a record in that order. The configuration's
// field groups decide the optional parts; the rest is always there.
//
// Order matters to collectors that map two elements onto one field: nfdump
// stores octetTotalCount and octetDeltaCount (and the packet counts) in the
// same place, the last one in the record winning, so the totals come before
// the deltas and nfdump keeps the delta.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "agent/export/export_options.hpp"
#include "agent/model.hpp"
#include "pkg/ipfix/encoder.hpp"
#include "pkg/ipfix/information_element.hpp"
#include "pkg/ipfix/template.hpp"

namespace netring::agent::exporter {

// What one record says beyond the flow itself.
struct RecordCounts {
  std::uint64_t octet_delta = 0, packet_delta = 0;  // since the flow's previous record
  std::uint64_t octet_total = 0, packet_total = 0;  // since the flow began
  double octet_delta_variance = 0;                  // of the octet delta (0: exact)
  // samples / estimated packets over the whole flow: the mean probability
  // with which its packets were picked (1 when every packet was counted).
  double sampling_probability = 1;
  ipfix::FlowEndReason end_reason = ipfix::FlowEndReason::kActiveTimeout;
};

class FlowLayout {
 public:
  static constexpr std::uint16_t kIpv4TemplateId = 256;
  static constexpr std::uint16_t kIpv6TemplateId = 257;
  static constexpr double kConfidenceLevel = 0.99;

  FlowLayout(FieldGroups groups, std::uint32_t enterprise_number);

  const FieldGroups& groups() const { return groups_; }
  // Both templates, IPv4 first.
  const std::vector<ipfix::Template>& templates() const { return templates_; }
  static std::uint16_t template_for(const FlowView& f) { return f.src.is_v4() ? kIpv4TemplateId : kIpv6TemplateId; }

  // Writes the record's fields in template order. interface_name: the name
  // of the flow's ingress interface (else its egress one), "" if unknown.
  void encode(ipfix::Encoder& out, const FlowView& f, const RecordCounts& c, std::string_view interface_name) const;

 private:
  FieldGroups groups_;
  std::vector<ipfix::Template> templates_;
};

}  // namespace netring::agent::exporter
