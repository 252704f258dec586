// A pcap file written by libpcap into memory, taken out piece by piece so it
// can go out as HTTP chunks while the capture runs.
//
// libpcap's dumper writes to a FILE*; fopencookie gives it one whose writes
// append to `pending_`, which take() hands out. The filter is compiled by
// libpcap against a dead Ethernet handle and matched in user space with
// pcap_offline_filter, since the samples never pass a pcap capture handle.
#pragma once

#include <pcap/pcap.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "agent/capture_api/capture_tap.hpp"
#include "pkg/common/error.hpp"

namespace netring::agent::capture_api {

class PcapStream {
 public:
  // An empty filter matches everything. Errors carry libpcap's message.
  static Result<std::unique_ptr<PcapStream>> open(std::uint32_t snap_len, const std::string& filter);
  ~PcapStream();
  PcapStream(const PcapStream&) = delete;
  PcapStream& operator=(const PcapStream&) = delete;

  bool matches(const TappedPacket& p) const;
  // Appends one record (truncated to the snap length).
  void write(const TappedPacket& p);
  // Everything written so far and not yet taken (the file header first).
  std::string take();

 private:
  PcapStream() = default;
  static ssize_t cookie_write(void* cookie, const char* buf, size_t size);

  pcap_t* pcap_ = nullptr;
  pcap_dumper_t* dumper_ = nullptr;
  bpf_program program_{};
  bool have_program_ = false;
  std::uint32_t snap_len_ = 0;
  std::string pending_;
};

}  // namespace netring::agent::capture_api
