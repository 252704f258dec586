// An AF_PACKET socket with a TPACKET_V3 RX ring, in two steps: create()
// makes the socket, its ring and options but receives nothing yet (the
// socket is opened with protocol 0), so filters can be attached before the
// first packet arrives; start() binds it (ETH_P_ALL) and turns promiscuous
// mode on. Fanout groups are joined after start(): the kernel only accepts
// bound sockets.
#pragma once

#include <cstdint>
#include <string>

#include "pkg/common/error.hpp"
#include "pkg/common/fd.hpp"
#include "pkg/packet/log_sink.hpp"
#include "pkg/packet/tpacket_ring.hpp"

namespace netring::packet {

enum class TimestampSource : std::uint8_t {
  kSoftware,  // skb->tstamp / ktime_get_real at capture, ns resolution
  kHardware,  // the NIC's raw clock, where the driver reports it per packet
};
const char* to_string(TimestampSource s);

struct SocketOptions {
  std::string interface {};  // empty: every interface of the namespace
  RingGeometry ring{};
  bool promiscuous = false;
  // PACKET_IGNORE_OUTGOING (4.20): the kernel skips packets this host
  // transmits before they reach the socket at all.
  bool ignore_outgoing = false;
  // Ask for raw hardware timestamps when ETHTOOL_GET_TS_INFO says the driver
  // has them. netring does not reconfigure the NIC (SIOCSHWTSTAMP belongs to
  // whoever runs PTP there); packets without a hardware stamp fall back to
  // software stamps per packet, and RingPacket::hardware_timestamp() says
  // which one a packet carries.
  bool hardware_timestamps = true;
  LogSink log{};
};

// PACKET_STATISTICS, accumulated: the kernel zeroes its counters on every
// read, so each read is added to these totals.
struct KernelStats {
  std::uint64_t packets = 0;       // accepted by the filter, including the dropped ones
  std::uint64_t drops = 0;         // accepted but not stored: ring full
  std::uint64_t freeze_q_cnt = 0;  // times the ring was found full (TPACKET_V3 block freeze)
};

class PacketSocket {
 public:
  static Result<PacketSocket> create(const SocketOptions& opts);
  // bind(ETH_P_ALL, ifindex) and PACKET_MR_PROMISC when asked.
  Result<void> start();

  PacketSocket(PacketSocket&&) noexcept = default;
  PacketSocket& operator=(PacketSocket&&) noexcept = default;

  int fd() const { return fd_.get(); }
  std::uint32_t ifindex() const { return ifindex_; }
  const std::string& interface() const { return interface_; }
  TimestampSource timestamp_source() const { return ts_; }
  TpacketRing& ring() { return ring_; }

  // Blocks until a block is ready or timeout_ms passes; true when ready.
  Result<bool> wait(int timeout_ms);
  // Reads PACKET_STATISTICS and returns the running totals.
  Result<KernelStats> stats();

 private:
  PacketSocket(UniqueFd fd, TpacketRing ring, std::uint32_t ifindex, std::string ifname, bool promisc)
      : fd_(std::move(fd)),
        ring_(std::move(ring)),
        ifindex_(ifindex),
        interface_(std::move(ifname)),
        promisc_(promisc) {}

  UniqueFd fd_;
  TpacketRing ring_;  // unmapped before fd_ closes: members die in reverse order
  std::uint32_t ifindex_ = 0;
  std::string interface_;
  bool promisc_ = false;
  TimestampSource ts_ = TimestampSource::kSoftware;
  KernelStats totals_;
};

// The hint an EPERM/EACCES on a packet socket deserves.
inline constexpr const char* kNeedNetRaw = "needs CAP_NET_RAW";

}  // namespace netring::packet
