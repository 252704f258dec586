#include "pkg/packet/fanout.hpp"

#include <linux/filter.h>
#include <linux/if_packet.h>
#include <sys/socket.h>

#include <string>

namespace netring::packet {
namespace {

std::uint32_t kernel_mode(FanoutMode m) {
  switch (m) {
    case FanoutMode::kHash: return PACKET_FANOUT_HASH;
    case FanoutMode::kLoadBalance: return PACKET_FANOUT_LB;
    case FanoutMode::kCpu: return PACKET_FANOUT_CPU;
    case FanoutMode::kRollover: return PACKET_FANOUT_ROLLOVER;
    case FanoutMode::kRandom: return PACKET_FANOUT_RND;
    case FanoutMode::kQueueMapping: return PACKET_FANOUT_QM;
    case FanoutMode::kFrameByte: return PACKET_FANOUT_CBPF;
  }
  return PACKET_FANOUT_HASH;
}

}  // namespace

const char* to_string(FanoutMode m) {
  switch (m) {
    case FanoutMode::kHash: return "hash";
    case FanoutMode::kLoadBalance: return "lb";
    case FanoutMode::kCpu: return "cpu";
    case FanoutMode::kRollover: return "rollover";
    case FanoutMode::kRandom: return "random";
    case FanoutMode::kQueueMapping: return "qm";
    case FanoutMode::kFrameByte: return "frame-byte";
  }
  return "?";
}

Result<void> FanoutGroup::join(int fd) {
  std::uint32_t type = kernel_mode(opts_.mode);
  if (opts_.defrag) type |= PACKET_FANOUT_FLAG_DEFRAG;
  if (opts_.rollover && opts_.mode != FanoutMode::kRollover) type |= PACKET_FANOUT_FLAG_ROLLOVER;
  const bool allocate = !id_.has_value();
  // With UNIQUEID the id passed must be 0 and the kernel picks a free one;
  // the flag only applies to this first join and is not part of the group.
  if (allocate) type |= PACKET_FANOUT_FLAG_UNIQUEID;
  // The option value: group id in the low 16 bits, mode and flags above.
  const std::uint32_t arg = static_cast<std::uint32_t>(id_.value_or(0)) | (type << 16);
  const std::string what =
      std::string(to_string(opts_.mode)) + " group " + (allocate ? std::string("(new id)") : std::to_string(*id_));
  if (::setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) != 0) {
    const int err = errno;
    std::string hint;
    if (err == EINVAL) hint = "the socket must be bound, and match the group's interface, mode and flags";
    if (err == EALREADY) hint = "the socket is already in a fanout group";
    return Error("setsockopt(PACKET_FANOUT)", err, what, hint);
  }
  if (allocate) {
    auto id = fanout_group_of(fd);
    if (!id) return std::move(id).take_error();
    id_ = *id;
    if (opts_.mode == FanoutMode::kFrameByte) {
      // The group's program, set once through its first member: the kernel
      // takes its return value modulo the members (fanout_demux_bpf).
      // SKF_LL_OFF: relative to the link-layer header, wherever skb->data
      // points when the group's demux runs (the network header on receive).
      sock_filter prog[] = {
          BPF_STMT(BPF_LD | BPF_B | BPF_ABS, static_cast<std::uint32_t>(SKF_LL_OFF + opts_.byte_offset)),
          BPF_STMT(BPF_RET | BPF_A, 0),
      };
      sock_fprog fprog{static_cast<unsigned short>(sizeof prog / sizeof prog[0]), prog};
      if (::setsockopt(fd, SOL_PACKET, PACKET_FANOUT_DATA, &fprog, sizeof(fprog)) != 0)
        return Error::from_errno("setsockopt(PACKET_FANOUT_DATA)", what);
    }
  }
  ++joined_;
  return ok();
}

Result<std::uint16_t> fanout_group_of(int fd) {
  std::uint32_t val = 0;
  socklen_t len = sizeof(val);
  if (::getsockopt(fd, SOL_PACKET, PACKET_FANOUT, &val, &len) != 0)
    return Error::from_errno("getsockopt(PACKET_FANOUT)");
  // id | type << 16 | flags << 24.
  return static_cast<std::uint16_t>(val & 0xffff);
}

}  // namespace netring::packet
