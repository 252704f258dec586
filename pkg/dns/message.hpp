// A DNS message's header and first question (RFC 1035 4.1), read from the
// bytes of a UDP payload or a TCP segment that starts a message (after its
// two-byte length).
//
// Hostile input: every read is checked against the captured length (the
// sampler's snap length may cut a message short); compression pointers in
// the question name must point backwards, at most kMaxPointers of them, so
// a loop cannot spin; the name is bounded (kMaxName characters, the longest
// legal name). Every message that cannot be used is counted under a
// ParseStatus whose snake_case name is stable (a metric label).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace netring::dns {

// Append new values at the end: counters index by value.
enum class ParseStatus : std::uint8_t {
  kOk = 0,
  // The header is complete but the question is cut short by the capture:
  // the message still matches (id, rcode), its name and type are unknown.
  kQuestionCut,
  kTruncatedHeader,  // fewer than 12 bytes (or the TCP length prefix)
  kNotQuery,         // opcode other than QUERY: not timed
  kNoQuestion,       // QDCOUNT 0
  kBadLabelType,     // a label with the reserved 01/10 type bits
  kBadPointer,       // a compression pointer forward or past the message
  kTooManyPointers,  // more than kMaxPointers (a loop)
  kNameTooLong,      // more than 255 bytes on the wire
  kBadTcpLength,     // a TCP length prefix shorter than a header
  kCount,
};

const char* to_string(ParseStatus s);  // "truncated_header", ...

// The header is usable for matching (id, flags, rcode valid).
inline bool header_valid(ParseStatus s) {
  return s == ParseStatus::kOk || s == ParseStatus::kQuestionCut;
}

struct Message {
  static constexpr std::size_t kMaxName = 253;  // presentation form, without the final dot
  static constexpr int kMaxPointers = 8;

  std::uint16_t id = 0;
  bool response = false;
  std::uint8_t opcode = 0;
  std::uint8_t rcode = 0;  // the header's 4 bits
  bool truncated = false;  // TC bit
  std::uint16_t qdcount = 0, ancount = 0;
  std::uint16_t qtype = 0, qclass = 0;  // 0: not captured
  std::uint8_t name_len = 0;
  std::array<char, kMaxName + 1> name{};  // lower case, '.'-separated, "." for the root

  std::string_view qname() const { return {name.data(), name_len}; }
};

// `tcp`: the bytes start with the two-byte message length (RFC 7766).
ParseStatus parse_message(std::span<const std::byte> payload, bool tcp, Message& out);

// "NOERROR", "NXDOMAIN", ... or the decimal number.
const char* rcode_name(std::uint8_t rcode);
// "A", "AAAA", ... or nullptr for a type without a name here.
const char* qtype_name(std::uint16_t qtype);

}  // namespace netring::dns
