#include "pkg/dns/message.hpp"

namespace netring::dns {
namespace {

constexpr std::size_t kHeader = 12;
constexpr std::size_t kMaxWireName = 255;

std::uint16_t be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}

// Reads the name at `off` of the message [p, p + len); on success `end` is
// the offset after the name where it starts (not where a pointer led).
ParseStatus read_name(const std::uint8_t* p, std::size_t len, std::size_t off, Message& out, std::size_t& end) {
  std::size_t wire = 0, pos = off, out_len = 0;
  int pointers = 0;
  bool jumped = false;
  for (;;) {
    if (pos >= len) return ParseStatus::kQuestionCut;
    const std::uint8_t b = p[pos];
    if ((b & 0xC0) == 0xC0) {
      if (pos + 1 >= len) return ParseStatus::kQuestionCut;
      const std::size_t target = static_cast<std::size_t>(b & 0x3F) << 8 | p[pos + 1];
      // Backwards only, into the message proper (not its header): any loop
      // would need a forward pointer, and the count bounds the rest.
      if (target < kHeader || target >= pos) return ParseStatus::kBadPointer;
      if (++pointers > Message::kMaxPointers) return ParseStatus::kTooManyPointers;
      if (!jumped) end = pos + 2;
      jumped = true;
      pos = target;
      continue;
    }
    if ((b & 0xC0) != 0) return ParseStatus::kBadLabelType;
    wire += 1 + b;
    if (wire > kMaxWireName) return ParseStatus::kNameTooLong;
    if (b == 0) {
      if (!jumped) end = pos + 1;
      break;
    }
    if (pos + 1 + b > len) return ParseStatus::kQuestionCut;
    if (out_len != 0 && out_len < Message::kMaxName) out.name[out_len++] = '.';
    for (std::size_t i = 0; i < b && out_len < Message::kMaxName; ++i) {
      char c = static_cast<char>(p[pos + 1 + i]);
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      // Label bytes are arbitrary octets: keep the name printable and free of
      // the separator.
      if (c <= 0x20 || c >= 0x7f || c == '.') c = '?';
      out.name[out_len++] = c;
    }
    pos += 1 + b;
  }
  if (out_len == 0) out.name[out_len++] = '.';
  out.name_len = static_cast<std::uint8_t>(out_len);
  return ParseStatus::kOk;
}

}  // namespace

const char* to_string(ParseStatus s) {
  switch (s) {
    case ParseStatus::kOk: return "ok";
    case ParseStatus::kQuestionCut: return "question_cut";
    case ParseStatus::kTruncatedHeader: return "truncated_header";
    case ParseStatus::kNotQuery: return "not_query";
    case ParseStatus::kNoQuestion: return "no_question";
    case ParseStatus::kBadLabelType: return "bad_label_type";
    case ParseStatus::kBadPointer: return "bad_pointer";
    case ParseStatus::kTooManyPointers: return "too_many_pointers";
    case ParseStatus::kNameTooLong: return "name_too_long";
    case ParseStatus::kBadTcpLength: return "bad_tcp_length";
    case ParseStatus::kCount: break;
  }
  return "unknown";
}

ParseStatus parse_message(std::span<const std::byte> payload, bool tcp, Message& out) {
  out = Message{};
  const auto* p = reinterpret_cast<const std::uint8_t*>(payload.data());
  std::size_t len = payload.size();
  if (tcp) {
    if (len < 2) return ParseStatus::kTruncatedHeader;
    const std::size_t msg_len = be16(p);
    if (msg_len < kHeader) return ParseStatus::kBadTcpLength;
    p += 2;
    len -= 2;
    if (len > msg_len) len = msg_len;  // a second message may follow in the segment
  }
  if (len < kHeader) return ParseStatus::kTruncatedHeader;
  out.id = be16(p);
  out.response = (p[2] & 0x80) != 0;
  out.opcode = static_cast<std::uint8_t>((p[2] >> 3) & 0x0F);
  out.truncated = (p[2] & 0x02) != 0;
  out.rcode = static_cast<std::uint8_t>(p[3] & 0x0F);
  out.qdcount = be16(p + 4);
  out.ancount = be16(p + 6);
  if (out.opcode != 0) return ParseStatus::kNotQuery;
  if (out.qdcount == 0) return ParseStatus::kNoQuestion;
  std::size_t end = 0;
  const ParseStatus st = read_name(p, len, kHeader, out, end);
  if (st != ParseStatus::kOk) {
    out.name_len = 0;
    return st;
  }
  if (end + 4 > len) return ParseStatus::kQuestionCut;  // the name is known, the type is not
  out.qtype = be16(p + end);
  out.qclass = be16(p + end + 2);
  return ParseStatus::kOk;
}

const char* rcode_name(std::uint8_t rcode) {
  static constexpr const char* kNames[16] = {"NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
                                             "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE", "DSOTYPENI",
                                             "12",       "13",      "14",       "15"};
  return kNames[rcode & 0x0F];
}

const char* qtype_name(std::uint16_t qtype) {
  switch (qtype) {
    case 1: return "A";
    case 2: return "NS";
    case 5: return "CNAME";
    case 6: return "SOA";
    case 12: return "PTR";
    case 15: return "MX";
    case 16: return "TXT";
    case 28: return "AAAA";
    case 33: return "SRV";
    case 35: return "NAPTR";
    case 64: return "SVCB";
    case 65: return "HTTPS";
    case 255: return "ANY";
  }
  return nullptr;
}

}  // namespace netring::dns
