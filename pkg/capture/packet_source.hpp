// The AF_PACKET TPACKET_V3 backend behind capture::Source: one socket and
// its ring per Source; several Sources on one interface split its traffic
// through one fanout group.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "pkg/capture/source.hpp"
#include "pkg/packet/fanout.hpp"
#include "pkg/packet/log_sink.hpp"
#include "pkg/packet/socket.hpp"

namespace netring::capture {

struct PacketSourceOptions {
  std::string interface {};  // empty: every interface (the no-BPF rung, see direct_capture.hpp)
  packet::RingGeometry ring{};
  bool promiscuous = false;
  bool ignore_outgoing = false;
  // Socket filter, attached before the first packet can arrive: 1-in-N
  // sampling (1 = all) and a snap length (0 = whole packet). eBPF when
  // allowed, else the classic twin.
  std::uint32_t sample_rate = 1;
  std::uint32_t snap_len = 0;
  bool allow_ebpf_filter = true;
  // Members > 1 join one fanout group.
  unsigned members = 1;
  packet::FanoutOptions fanout{};
  packet::LogSink log{};
};

class PacketSource final : public Source {
 public:
  explicit PacketSource(packet::PacketSocket sock, std::string describe)
      : sock_(std::move(sock)), describe_(std::move(describe)) {}

  Result<std::size_t> poll_batch(std::span<PacketView> out) override;
  void release() override { sock_.ring().release(); }
  Result<void> wait(int timeout_ms) override;
  int fd() const override { return sock_.fd(); }
  Stats stats() override;
  Backend backend() const override { return Backend::kAfPacket; }
  std::string describe() const override { return describe_; }

  packet::PacketSocket& socket() { return sock_; }

 private:
  packet::PacketSocket sock_;
  std::string describe_;
  std::uint64_t delivered_ = 0;
  std::uint64_t bytes_ = 0;
  // Scratch for one ring batch: views are translated from it, so
  // poll_batch never allocates.
  std::array<packet::RingPacket, 64> scratch_{};
};

// Opens opts.members AF_PACKET sources (a fanout group when more than one),
// each filtered as asked before it starts receiving. The sockets are made
// in the calling thread's network namespace.
Result<std::vector<std::unique_ptr<Source>>> open_packet(const PacketSourceOptions& opts);

// The sampling socket filter open_packet() attaches: eBPF when allowed and
// loadable, else classic BPF. Returns "eBPF" or "classic" for describe().
Result<std::string> attach_sampler(int fd, std::uint32_t rate, std::uint32_t snap_len, bool allow_ebpf,
                                   const packet::LogSink& log);

}  // namespace netring::capture
