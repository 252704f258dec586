#include "tests/testing/ipfix_reader.hpp"

#include <bit>
#include <cstring>

namespace netring::testing {

namespace {

std::uint16_t be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
std::uint32_t be32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
         static_cast<std::uint32_t>(p[2]) << 8 | p[3];
}

}  // namespace

std::uint64_t IpfixRecord::u(std::uint16_t id, std::uint32_t pen) const {
  auto it = fields.find({pen, id});
  if (it == fields.end()) return 0;
  std::uint64_t v = 0;
  for (std::uint8_t b : it->second) v = v << 8 | b;
  return v;
}

double IpfixRecord::f64(std::uint16_t id, std::uint32_t pen) const {
  return std::bit_cast<double>(u(id, pen));
}

std::string IpfixRecord::str(std::uint16_t id, std::uint32_t pen) const {
  auto it = fields.find({pen, id});
  return it == fields.end() ? std::string() : std::string(it->second.begin(), it->second.end());
}

std::optional<IpfixMessage> IpfixReader::read(std::span<const std::uint8_t> msg) {
  error_.clear();
  auto fail = [this](std::string e) -> std::optional<IpfixMessage> {
    error_ = std::move(e);
    return std::nullopt;
  };
  if (msg.size() < 16) return fail("short header");
  IpfixMessage m;
  m.version = be16(&msg[0]);
  m.length = be16(&msg[2]);
  m.export_time = be32(&msg[4]);
  m.sequence = be32(&msg[8]);
  m.domain = be32(&msg[12]);
  if (m.version != 10) return fail("version " + std::to_string(m.version));
  if (m.length != msg.size())
    return fail("length field " + std::to_string(m.length) + " != " + std::to_string(msg.size()));
  std::size_t off = 16;
  while (off < msg.size()) {
    if (msg.size() - off < 4) return fail("short set header");
    const std::uint16_t set_id = be16(&msg[off]);
    const std::uint16_t set_len = be16(&msg[off + 2]);
    if (set_len < 4 || off + set_len > msg.size()) return fail("bad set length");
    const std::uint8_t* p = &msg[off + 4];
    const std::uint8_t* end = &msg[off] + set_len;
    if (set_id == 2) {
      while (end - p >= 4) {
        const std::uint16_t tid = be16(p), count = be16(p + 2);
        p += 4;
        std::vector<IpfixField> fs;
        for (std::uint16_t i = 0; i < count; ++i) {
          if (end - p < 4) return fail("short template");
          IpfixField f;
          f.id = be16(p);
          f.length = be16(p + 2);
          p += 4;
          if (f.id & 0x8000) {
            if (end - p < 4) return fail("short enterprise number");
            f.id &= 0x7fff;
            f.enterprise = be32(p);
            p += 4;
          }
          fs.push_back(f);
        }
        templates_[tid] = fs;
        m.template_ids.push_back(tid);
      }
    } else if (set_id >= 256) {
      auto t = templates_.find(set_id);
      if (t == templates_.end()) return fail("data set of unknown template " + std::to_string(set_id));
      std::size_t min_len = 0;
      for (const auto& f : t->second) min_len += f.length == 65535 ? 1 : f.length;
      while (static_cast<std::size_t>(end - p) >= min_len && min_len > 0) {
        IpfixRecord r;
        r.template_id = set_id;
        for (const auto& f : t->second) {
          std::size_t len = f.length;
          if (f.length == 65535) {
            if (end - p < 1) return fail("short varlen prefix");
            len = *p++;
            if (len == 255) {
              if (end - p < 2) return fail("short varlen prefix");
              len = be16(p);
              p += 2;
            }
          }
          if (static_cast<std::size_t>(end - p) < len) return fail("field past the set's end");
          r.fields[{f.enterprise, f.id}] = std::vector<std::uint8_t>(p, p + len);
          p += len;
        }
        m.records.push_back(std::move(r));
      }
      if (p != end) return fail("bytes left over in a data set (padding is not expected)");
    } else {
      return fail("unexpected set id " + std::to_string(set_id));
    }
    off += set_len;
  }
  return m;
}

}  // namespace netring::testing
