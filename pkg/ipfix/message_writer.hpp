// Builds one IPFIX Message at a time (RFC 7011 section 3): the 16-octet
// header, then Sets, each a 4-octet header (set id, length) and its records.
// Template Sets have id 2; a Data Set carries the id of the Template its
// records follow.
//
// The buffer is allocated once, at the largest message size allowed (the
// path MTU budget on UDP, up to 65535 on TCP). add_record() writes a record
// in place and takes it back if it does not fit, so the caller can finish
// the message, send it, and start the record again in the next one: records
// are never split, and a full message never allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "pkg/ipfix/encoder.hpp"
#include "pkg/ipfix/template.hpp"

namespace netring::ipfix {

constexpr std::uint16_t kVersion = 10;
constexpr std::size_t kMessageHeaderLength = 16;
constexpr std::size_t kSetHeaderLength = 4;

class MessageWriter {
 public:
  // max_size: 32..65535 octets (the message length field is 16 bits).
  explicit MessageWriter(std::size_t max_size);
  MessageWriter(const MessageWriter&) = delete;
  MessageWriter& operator=(const MessageWriter&) = delete;

  std::size_t max_size() const { return buf_.size(); }

  // Starts a message. export_time: seconds since the epoch; sequence: data
  // records sent before this message in its Observation Domain (mod 2^32).
  void begin(std::uint32_t export_time, std::uint32_t sequence, std::uint32_t observation_domain);
  bool started() const { return started_; }
  // Anything after the header?
  bool empty() const { return enc_.position() <= kMessageHeaderLength; }
  std::size_t size() const { return enc_.position(); }
  std::uint32_t data_records() const { return records_; }
  std::uint32_t template_records() const { return template_records_; }

  // One Template Set with these templates. False (and nothing written) when
  // it does not fit in what is left of the message.
  bool add_templates(std::span<const Template> templates);

  // One Data Record of `template_id`: write(Encoder&) writes its fields in
  // the template's order. Opens a Data Set for that id when the previous
  // set was another one. False (and nothing written) when it does not fit.
  template <class F>
  bool add_record(std::uint16_t template_id, F&& write) {
    const std::size_t mark = enc_.position();
    const bool opened = set_id_ != template_id;
    if (opened) {
      close_set();
      if (enc_.remaining() < kSetHeaderLength + 1) return false;
      open_set(template_id);
    }
    const std::size_t record_start = enc_.position();
    write(enc_);
    if (enc_.overflow() || enc_.position() == record_start) {
      enc_.rewind(opened ? mark : record_start);
      if (opened) set_id_ = 0;
      return false;
    }
    ++records_;
    ++set_records_;
    return true;
  }

  // Closes the last set, writes the message length, and returns the
  // message (valid until the next begin()).
  std::span<const std::uint8_t> finish();

 private:
  void open_set(std::uint16_t id);
  void close_set();

  std::vector<std::uint8_t> buf_;
  Encoder enc_;
  bool started_ = false;
  std::uint16_t set_id_ = 0;  // 0: no open set
  std::size_t set_start_ = 0;
  std::uint32_t set_records_ = 0;
  std::uint32_t records_ = 0;
  std::uint32_t template_records_ = 0;
};

}  // namespace netring::ipfix
