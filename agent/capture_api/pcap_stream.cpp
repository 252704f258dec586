#include "agent/capture_api/pcap_stream.hpp"

#include <cstdio>

namespace netring::agent::capture_api {

ssize_t PcapStream::cookie_write(void* cookie, const char* buf, size_t size) {
  static_cast<PcapStream*>(cookie)->pending_.append(buf, size);
  return static_cast<ssize_t>(size);
}

Result<std::unique_ptr<PcapStream>> PcapStream::open(std::uint32_t snap_len, const std::string& filter) {
  std::unique_ptr<PcapStream> s(new PcapStream());
  s->snap_len_ = snap_len;
  s->pcap_ = pcap_open_dead(DLT_EN10MB, static_cast<int>(snap_len));
  if (s->pcap_ == nullptr) return Error("pcap_open_dead", ENOMEM, "DLT_EN10MB");
  if (pcap_compile(s->pcap_, &s->program_, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0)
    return Error::invalid("pcap_compile", "'" + filter + "': " + pcap_geterr(s->pcap_));
  s->have_program_ = true;

  cookie_io_functions_t io{};
  io.write = &PcapStream::cookie_write;
  FILE* f = fopencookie(s.get(), "w", io);
  if (f == nullptr) return Error::from_errno("fopencookie", "pcap stream");
  s->dumper_ = pcap_dump_fopen(s->pcap_, f);
  if (s->dumper_ == nullptr) {
    std::string why = pcap_geterr(s->pcap_);
    fclose(f);
    return Error::invalid("pcap_dump_fopen", why);
  }
  pcap_dump_flush(s->dumper_);  // the file header goes out first
  return s;
}

PcapStream::~PcapStream() {
  if (dumper_ != nullptr) pcap_dump_close(dumper_);  // closes the cookie FILE
  if (have_program_) pcap_freecode(&program_);
  if (pcap_ != nullptr) pcap_close(pcap_);
}

namespace {
pcap_pkthdr header_of(const TappedPacket& p, std::uint32_t snap_len) {
  pcap_pkthdr h{};
  h.ts.tv_sec = static_cast<time_t>(p.timestamp_ns / 1'000'000'000ull);
  h.ts.tv_usec = static_cast<suseconds_t>((p.timestamp_ns % 1'000'000'000ull) / 1000);
  h.caplen = p.len < snap_len ? p.len : snap_len;
  h.len = p.orig_len < h.caplen ? h.caplen : p.orig_len;
  return h;
}
}  // namespace

bool PcapStream::matches(const TappedPacket& p) const {
  pcap_pkthdr h = header_of(p, snap_len_);
  return pcap_offline_filter(&program_, &h, reinterpret_cast<const u_char*>(p.data)) != 0;
}

void PcapStream::write(const TappedPacket& p) {
  pcap_pkthdr h = header_of(p, snap_len_);
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, reinterpret_cast<const u_char*>(p.data));
}

std::string PcapStream::take() {
  pcap_dump_flush(dumper_);
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace netring::agent::capture_api
