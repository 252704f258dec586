// IPFIX Information Elements (RFC 7012 and the IANA "IPFIX Information
// Elements" registry): the ones netring exports, with their abstract data
// type and the length their registry entry gives them.
//
// An element is named by (enterprise number, element id): enterprise 0 is
// the IANA registry; any other number is a Private Enterprise Number whose
// owner defines the ids (RFC 7011 section 3.2: such a Field Specifier sets
// the enterprise bit and carries the number).
#pragma once

#include <cstdint>

namespace netring::ipfix {

// RFC 7011 section 7: a Field Specifier of this length marks a
// variable-length field, encoded with a length prefix in each record.
constexpr std::uint16_t kVariableLength = 65535;
constexpr std::uint32_t kIanaEnterprise = 0;

// RFC 7012 section 3.1 (the subset netring writes).
enum class DataType : std::uint8_t {
  kUnsigned8,
  kUnsigned16,
  kUnsigned32,
  kUnsigned64,
  kFloat64,
  kIpv4Address,
  kIpv6Address,
  kDateTimeMilliseconds,
  kString,
};

// The natural (non-reduced) encoded length of a type; kVariableLength for strings.
constexpr std::uint16_t natural_length(DataType t) {
  switch (t) {
    case DataType::kUnsigned8: return 1;
    case DataType::kUnsigned16: return 2;
    case DataType::kUnsigned32: return 4;
    case DataType::kIpv4Address: return 4;
    case DataType::kUnsigned64:
    case DataType::kFloat64:
    case DataType::kDateTimeMilliseconds: return 8;
    case DataType::kIpv6Address: return 16;
    case DataType::kString: return kVariableLength;
  }
  return 0;
}

struct InformationElement {
  std::uint16_t id = 0;  // 1..32767 (bit 15 is the enterprise bit on the wire)
  std::uint32_t enterprise = kIanaEnterprise;
  DataType type = DataType::kUnsigned8;
  const char* name = "";

  std::uint16_t length() const { return natural_length(type); }
};

// The IANA-registered elements netring uses.
namespace ie {
constexpr InformationElement kOctetDeltaCount{1, 0, DataType::kUnsigned64, "octetDeltaCount"};
constexpr InformationElement kPacketDeltaCount{2, 0, DataType::kUnsigned64, "packetDeltaCount"};
constexpr InformationElement kProtocolIdentifier{4, 0, DataType::kUnsigned8, "protocolIdentifier"};
constexpr InformationElement kTcpControlBits{6, 0, DataType::kUnsigned16, "tcpControlBits"};
constexpr InformationElement kSourceTransportPort{7, 0, DataType::kUnsigned16, "sourceTransportPort"};
constexpr InformationElement kSourceIPv4Address{8, 0, DataType::kIpv4Address, "sourceIPv4Address"};
constexpr InformationElement kIngressInterface{10, 0, DataType::kUnsigned32, "ingressInterface"};
constexpr InformationElement kDestinationTransportPort{11, 0, DataType::kUnsigned16, "destinationTransportPort"};
constexpr InformationElement kDestinationIPv4Address{12, 0, DataType::kIpv4Address, "destinationIPv4Address"};
constexpr InformationElement kEgressInterface{14, 0, DataType::kUnsigned32, "egressInterface"};
constexpr InformationElement kSourceIPv6Address{27, 0, DataType::kIpv6Address, "sourceIPv6Address"};
constexpr InformationElement kDestinationIPv6Address{28, 0, DataType::kIpv6Address, "destinationIPv6Address"};
constexpr InformationElement kIcmpTypeCodeIPv4{32, 0, DataType::kUnsigned16, "icmpTypeCodeIPv4"};
constexpr InformationElement kFlowDirection{61, 0, DataType::kUnsigned8, "flowDirection"};
constexpr InformationElement kInterfaceName{82, 0, DataType::kString, "interfaceName"};
constexpr InformationElement kOctetTotalCount{85, 0, DataType::kUnsigned64, "octetTotalCount"};
constexpr InformationElement kPacketTotalCount{86, 0, DataType::kUnsigned64, "packetTotalCount"};
constexpr InformationElement kFlowEndReason{136, 0, DataType::kUnsigned8, "flowEndReason"};
constexpr InformationElement kIcmpTypeCodeIPv6{139, 0, DataType::kUnsigned16, "icmpTypeCodeIPv6"};
constexpr InformationElement kFlowId{148, 0, DataType::kUnsigned64, "flowId"};
constexpr InformationElement kFlowStartMilliseconds{152, 0, DataType::kDateTimeMilliseconds, "flowStartMilliseconds"};
constexpr InformationElement kFlowEndMilliseconds{153, 0, DataType::kDateTimeMilliseconds, "flowEndMilliseconds"};
constexpr InformationElement kSamplingProbability{311, 0, DataType::kFloat64, "samplingProbability"};
constexpr InformationElement kUpperCILimit{336, 0, DataType::kFloat64, "upperCILimit"};
constexpr InformationElement kLowerCILimit{337, 0, DataType::kFloat64, "lowerCILimit"};
constexpr InformationElement kConfidenceLevel{338, 0, DataType::kFloat64, "confidenceLevel"};
}  // namespace ie

// flowEndReason values (IANA "flowEndReason Values").
enum class FlowEndReason : std::uint8_t {
  kIdleTimeout = 0x01,
  kActiveTimeout = 0x02,  // also the periodic export of a flow that goes on
  kEndOfFlow = 0x03,
  kForcedEnd = 0x04,  // the exporter shut down
  kLackOfResources = 0x05,
};

// flowDirection values (IANA): as seen at the Observation Point.
enum class FlowDirection : std::uint8_t { kIngress = 0x00, kEgress = 0x01 };

}  // namespace netring::ipfix
