// The Sequence Number of RFC 7011 section 3.1: per Observation Domain, the
// number of Data Records sent before this message, modulo 2^32. Template
// records do not count; every Data Record does, including those in messages
// that were lost on the way (a collector sees the gap: that is how it counts
// what it missed). netring sends no Options Data Records: collectors differ
// on whether those count (pmacct and libfixbuf count them, as the RFC says;
// nfdump counts only records of data templates and would report a sequence
// failure after each), so only flow records ever move the number.
#pragma once

#include <cstdint>

namespace netring::ipfix {

class SequenceNumber {
 public:
  // The number for the next message's header.
  std::uint32_t current() const { return next_; }
  // A message with `records` Data Records was handed to the transport
  // (sent or lost: either way the collector must see it counted).
  void advance(std::uint32_t records) { next_ += records; }  // wraps mod 2^32, as the RFC says

 private:
  std::uint32_t next_ = 0;
};

}  // namespace netring::ipfix
