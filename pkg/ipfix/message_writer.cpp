#include "pkg/ipfix/message_writer.hpp"

#include <algorithm>

namespace netring::ipfix {

MessageWriter::MessageWriter(std::size_t max_size)
    : buf_(std::clamp<std::size_t>(max_size, 32, 65535)), enc_(std::span<std::uint8_t>(buf_)) {}

void MessageWriter::begin(std::uint32_t export_time, std::uint32_t sequence, std::uint32_t observation_domain) {
  enc_ = Encoder(std::span<std::uint8_t>(buf_));
  enc_.u16(kVersion);
  enc_.u16(0);  // length, written by finish()
  enc_.u32(export_time);
  enc_.u32(sequence);
  enc_.u32(observation_domain);
  started_ = true;
  set_id_ = 0;
  set_records_ = 0;
  records_ = 0;
  template_records_ = 0;
}

bool MessageWriter::add_templates(std::span<const Template> templates) {
  if (templates.empty()) return true;
  close_set();
  std::size_t need = kSetHeaderLength;
  for (const auto& t : templates) need += t.encoded_size();
  if (need > enc_.remaining()) return false;
  const std::size_t start = enc_.position();
  enc_.u16(kTemplateSetId);
  enc_.u16(static_cast<std::uint16_t>(need));
  for (const auto& t : templates) t.encode(enc_);
  if (enc_.overflow()) {  // cannot happen after the size check; never leave a torn set
    enc_.rewind(start);
    return false;
  }
  template_records_ += static_cast<std::uint32_t>(templates.size());
  return true;
}

void MessageWriter::open_set(std::uint16_t id) {
  set_start_ = enc_.position();
  enc_.u16(id);
  enc_.u16(0);
  set_id_ = id;
  set_records_ = 0;
}

void MessageWriter::close_set() {
  if (set_id_ == 0) return;
  if (set_records_ == 0) {
    enc_.rewind(set_start_);  // an empty Data Set says nothing
  } else {
    enc_.patch_u16(set_start_ + 2, static_cast<std::uint16_t>(enc_.position() - set_start_));
  }
  set_id_ = 0;
}

std::span<const std::uint8_t> MessageWriter::finish() {
  close_set();
  enc_.patch_u16(2, static_cast<std::uint16_t>(enc_.position()));
  started_ = false;
  return {buf_.data(), enc_.position()};
}

}  // namespace netring::ipfix
