#include "pkg/packet/socket.hpp"

#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/net_tstamp.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

namespace netring::packet {
namespace {

std::string perm_hint(int err) {
  return err == EPERM || err == EACCES ? kNeedNetRaw : "";
}

// ETHTOOL_GET_TS_INFO: does the driver stamp received packets with its own
// clock? veth and most virtual devices only offer software stamps.
bool driver_has_rx_hardware_timestamps(int fd, const std::string& ifname) {
  ethtool_ts_info info{};
  info.cmd = ETHTOOL_GET_TS_INFO;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  ifr.ifr_data = reinterpret_cast<char*>(&info);
  if (::ioctl(fd, SIOCETHTOOL, &ifr) != 0) return false;
  return (info.so_timestamping & SOF_TIMESTAMPING_RAW_HARDWARE) != 0 &&
         (info.so_timestamping & SOF_TIMESTAMPING_RX_HARDWARE) != 0;
}

}  // namespace

const char* to_string(TimestampSource s) {
  return s == TimestampSource::kHardware ? "hardware" : "software";
}

Result<PacketSocket> PacketSocket::create(const SocketOptions& opts) {
  const std::string what = opts.interface.empty() ? std::string("all interfaces") : opts.interface;
  std::uint32_t ifindex = 0;
  if (!opts.interface.empty()) {
    ifindex = ::if_nametoindex(opts.interface.c_str());
    if (ifindex == 0) return Error::from_errno("if_nametoindex", opts.interface, "no such interface in this namespace");
  }
  if (auto v = validate(opts.ring); !v) return std::move(v).take_error();

  // Protocol 0: no packet is queued before start() binds with ETH_P_ALL, so
  // a filter attached in between sees the very first packet.
  UniqueFd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
  if (!fd) {
    const int err = errno;
    return Error("socket(AF_PACKET, SOCK_RAW)", err, what, perm_hint(err));
  }

  TimestampSource ts = TimestampSource::kSoftware;
  if (opts.hardware_timestamps && ifindex != 0 && driver_has_rx_hardware_timestamps(fd.get(), opts.interface)) {
    const int req = SOF_TIMESTAMPING_RAW_HARDWARE;
    if (::setsockopt(fd.get(), SOL_PACKET, PACKET_TIMESTAMP, &req, sizeof(req)) == 0) {
      ts = TimestampSource::kHardware;
    } else {
      log_line(opts.log, "PACKET_TIMESTAMP(raw hardware) on " + what + " failed (" + std::strerror(errno) +
                             "), using software timestamps");
    }
  }

  if (opts.ignore_outgoing) {
    const int one = 1;
    if (::setsockopt(fd.get(), SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) != 0)
      return Error::from_errno("setsockopt(PACKET_IGNORE_OUTGOING)", what, "needs Linux 4.20 or later");
  }

  auto ring = TpacketRing::create(fd.get(), opts.ring, opts.log, what);
  if (!ring) return std::move(ring).take_error();

  PacketSocket s(std::move(fd), std::move(*ring), ifindex, opts.interface, opts.promiscuous);
  s.ts_ = ts;
  return s;
}

Result<void> PacketSocket::start() {
  const std::string what = interface_.empty() ? std::string("all interfaces") : interface_;
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_ALL);
  addr.sll_ifindex = static_cast<int>(ifindex_);
  if (::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0)
    return Error::from_errno("bind(AF_PACKET, ETH_P_ALL)", what);
  if (promisc_ && ifindex_ != 0) {
    // A membership, not IFF_PROMISC: the kernel counts promiscuity per user
    // and drops ours when the socket closes, even if we crash.
    packet_mreq mr{};
    mr.mr_ifindex = static_cast<int>(ifindex_);
    mr.mr_type = PACKET_MR_PROMISC;
    if (::setsockopt(fd_.get(), SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) != 0)
      return Error::from_errno("setsockopt(PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC)", what);
  }
  return ok();
}

Result<bool> PacketSocket::wait(int timeout_ms) {
  if (ring_.ready()) return true;
  pollfd p{fd_.get(), POLLIN | POLLRDNORM | POLLERR, 0};
  const int r = ::poll(&p, 1, timeout_ms);
  if (r < 0) {
    if (errno == EINTR) return ring_.ready();
    return Error::from_errno("poll", interface_.empty() ? "AF_PACKET socket" : interface_);
  }
  return ring_.ready();
}

Result<KernelStats> PacketSocket::stats() {
  tpacket_stats_v3 st{};
  socklen_t len = sizeof(st);
  if (::getsockopt(fd_.get(), SOL_PACKET, PACKET_STATISTICS, &st, &len) != 0)
    return Error::from_errno("getsockopt(PACKET_STATISTICS)", interface_);
  // The kernel adds drops into tp_packets before returning and zeroes both.
  totals_.packets += st.tp_packets;
  totals_.drops += st.tp_drops;
  totals_.freeze_q_cnt += st.tp_freeze_q_cnt;
  return totals_;
}

}  // namespace netring::packet
