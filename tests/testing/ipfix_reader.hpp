// Reads IPFIX messages back in tests: header fields, templates, and each
// data record's fields by (enterprise, id), laid out by the templates seen
// so far. Test-side checking only: the collectors the exporter is tested
// against are nfdump, pmacct and libfixbuf (tests/collector, e2e).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace netring::testing {

struct IpfixField {
  std::uint32_t enterprise = 0;
  std::uint16_t id = 0;
  std::uint16_t length = 0;
};

struct IpfixRecord {
  std::uint16_t template_id = 0;
  std::map<std::pair<std::uint32_t, std::uint16_t>, std::vector<std::uint8_t>> fields;

  bool has(std::uint16_t id, std::uint32_t pen = 0) const { return fields.count({pen, id}) != 0; }
  std::uint64_t u(std::uint16_t id, std::uint32_t pen = 0) const;  // unsigned, any length
  double f64(std::uint16_t id, std::uint32_t pen = 0) const;
  std::string str(std::uint16_t id, std::uint32_t pen = 0) const;
};

struct IpfixMessage {
  std::uint16_t version = 0;
  std::uint16_t length = 0;
  std::uint32_t export_time = 0;
  std::uint32_t sequence = 0;
  std::uint32_t domain = 0;
  std::vector<std::uint16_t> template_ids;  // templates (re)defined in this message
  std::vector<IpfixRecord> records;
};

class IpfixReader {
 public:
  // Parses one message; nullopt (and error()) on any malformation or a
  // data set whose template was never seen.
  std::optional<IpfixMessage> read(std::span<const std::uint8_t> msg);
  const std::string& error() const { return error_; }
  const std::map<std::uint16_t, std::vector<IpfixField>>& templates() const { return templates_; }

 private:
  std::map<std::uint16_t, std::vector<IpfixField>> templates_;
  std::string error_;
};

}  // namespace netring::testing
