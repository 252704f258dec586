#include "pkg/ipfix/template.hpp"

#include <string>

namespace netring::ipfix {

Result<Template> Template::create(std::uint16_t id, std::vector<FieldSpecifier> fields) {
  if (id < kMinDataSetId)
    return Error::invalid("ipfix template", "id " + std::to_string(id) + " is below 256 (ids 0..255 name set kinds)");
  if (fields.empty()) return Error::invalid("ipfix template", "a template needs at least one field");
  if (fields.size() > 65535) return Error::invalid("ipfix template", "more than 65535 fields");
  for (const auto& f : fields) {
    if (f.id == 0 || f.id > 0x7fff)
      return Error::invalid("ipfix template", "field id " + std::to_string(f.id) + " is outside 1..32767");
    if (f.length == 0) return Error::invalid("ipfix template", "field " + std::to_string(f.id) + " has length 0");
  }
  return Template(id, std::move(fields));
}

Template::Template(std::uint16_t id, std::vector<FieldSpecifier> fields) : id_(id), fields_(std::move(fields)) {
  for (const auto& f : fields_) min_record_length_ += f.variable() ? 1 : f.length;
}

std::size_t Template::encoded_size() const {
  std::size_t n = 4;
  for (const auto& f : fields_) n += f.encoded_size();
  return n;
}

void Template::encode(Encoder& out) const {
  out.u16(id_);
  out.u16(static_cast<std::uint16_t>(fields_.size()));
  for (const auto& f : fields_) {
    if (f.enterprise == kIanaEnterprise) {
      out.u16(f.id);
      out.u16(f.length);
    } else {
      out.u16(static_cast<std::uint16_t>(f.id | 0x8000));  // the enterprise bit
      out.u16(f.length);
      out.u32(f.enterprise);
    }
  }
}

}  // namespace netring::ipfix
