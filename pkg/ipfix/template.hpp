// An IPFIX Template (RFC 7011 section 3.4.1): an id (256..65535) and the
// ordered Field Specifiers that say how each Data Record of that id is laid
// out. The exporter writes a record's fields in exactly this order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "pkg/common/error.hpp"
#include "pkg/ipfix/encoder.hpp"
#include "pkg/ipfix/information_element.hpp"

namespace netring::ipfix {

constexpr std::uint16_t kTemplateSetId = 2;
constexpr std::uint16_t kOptionsTemplateSetId = 3;
constexpr std::uint16_t kMinDataSetId = 256;

struct FieldSpecifier {
  std::uint16_t id = 0;
  std::uint16_t length = 0;  // kVariableLength for a variable-length field
  std::uint32_t enterprise = kIanaEnterprise;

  static FieldSpecifier of(const InformationElement& e) { return {e.id, e.length(), e.enterprise}; }
  bool variable() const { return length == kVariableLength; }
  // 4 octets, 8 with the enterprise number.
  std::size_t encoded_size() const { return enterprise == kIanaEnterprise ? 4 : 8; }
  bool operator==(const FieldSpecifier&) const = default;
};

class Template {
 public:
  // Checks the id range, the field ids (15 bits) and the field count.
  static Result<Template> create(std::uint16_t id, std::vector<FieldSpecifier> fields);

  std::uint16_t id() const { return id_; }
  const std::vector<FieldSpecifier>& fields() const { return fields_; }
  // The record's length without its variable-length fields' contents (each
  // of those counts its one-octet length prefix): the smallest record.
  std::size_t min_record_length() const { return min_record_length_; }
  // The Template Record: id, field count, the specifiers.
  std::size_t encoded_size() const;
  void encode(Encoder& out) const;

  bool operator==(const Template&) const = default;

 private:
  Template(std::uint16_t id, std::vector<FieldSpecifier> fields);

  std::uint16_t id_ = 0;
  std::vector<FieldSpecifier> fields_;
  std::size_t min_record_length_ = 0;
};

}  // namespace netring::ipfix
