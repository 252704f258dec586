// Writes IPFIX field values into a caller-owned buffer: network byte order
// for numbers (RFC 7011 section 6.1), IEEE 754 binary64 for float64, and the
// variable-length encoding of RFC 7011 section 7 (one length octet below
// 255; else 255 and a two-octet length).
//
// Hot path: inline, no allocation, no exceptions. A write that does not fit
// sets the overflow flag and writes nothing; the caller rolls back to a mark
// (the MessageWriter ends the message and starts the record again in a new
// one), so a record is never split across messages.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace netring::ipfix {

class Encoder {
 public:
  Encoder() = default;
  explicit Encoder(std::span<std::uint8_t> buf) : buf_(buf) {}

  std::size_t position() const { return pos_; }
  bool overflow() const { return overflow_; }
  std::size_t remaining() const { return buf_.size() - pos_; }
  // Back to an earlier position (and out of overflow).
  void rewind(std::size_t pos) {
    pos_ = pos;
    overflow_ = false;
  }
  std::span<std::uint8_t> buffer() const { return buf_; }

  void u8(std::uint8_t v) { put(&v, 1); }
  void u16(std::uint16_t v) {
    const std::uint8_t b[2] = {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
    put(b, 2);
  }
  void u32(std::uint32_t v) {
    const std::uint8_t b[4] = {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                               static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
    put(b, 4);
  }
  void u64(std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v >> 32));
    u32(static_cast<std::uint32_t>(v));
  }
  void f64(double v) { u64(std::bit_cast<std::uint64_t>(v)); }
  // Bytes already in network order (addresses).
  void bytes(const void* p, std::size_t n) { put(p, n); }
  // A variable-length field.
  void varlen(std::string_view s) {
    if (s.size() > 65535) s = s.substr(0, 65535);
    const std::size_t prefix = s.size() < 255 ? 1 : 3;
    if (prefix + s.size() > remaining()) {
      overflow_ = true;
      return;
    }
    if (prefix == 1) {
      u8(static_cast<std::uint8_t>(s.size()));
    } else {
      u8(255);
      u16(static_cast<std::uint16_t>(s.size()));
    }
    put(s.data(), s.size());
  }
  // Overwrites a 16-bit field written earlier (set and message lengths).
  void patch_u16(std::size_t at, std::uint16_t v) {
    buf_[at] = static_cast<std::uint8_t>(v >> 8);
    buf_[at + 1] = static_cast<std::uint8_t>(v);
  }

 private:
  void put(const void* p, std::size_t n) {
    if (overflow_ || n > remaining()) {
      overflow_ = true;
      return;
    }
    if (n != 0) std::memcpy(buf_.data() + pos_, p, n);
    pos_ += n;
  }

  std::span<std::uint8_t> buf_;
  std::size_t pos_ = 0;
  bool overflow_ = false;
};

}  // namespace netring::ipfix
