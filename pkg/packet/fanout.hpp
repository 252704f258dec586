// PACKET_FANOUT: several AF_PACKET sockets bound alike share one stream of
// packets, each packet going to exactly one member.
//
// Group ids are per network namespace and shared with every other program
// there (tcpdump, Suricata, another agent). Joining an id someone else uses
// with the same mode would silently split *their* traffic with ours, so by
// default the first member asks the kernel for an unused id
// (PACKET_FANOUT_FLAG_UNIQUEID, 4.19) and the others join that id.
#pragma once

#include <cstdint>
#include <optional>

#include "pkg/common/error.hpp"

namespace netring::packet {

enum class FanoutMode : std::uint8_t {
  kHash,         // by flow hash (skb rxhash): a flow always lands on one member
  kLoadBalance,  // round robin
  kCpu,          // by the CPU the packet arrived on
  kRollover,     // fill one member, move on when its ring is full
  kRandom,
  kQueueMapping,  // by the NIC RX queue recorded in the skb
  // By one byte of the frame (FanoutOptions::byte_offset), modulo the
  // members, in join order: a classic BPF program (PACKET_FANOUT_CBPF) that
  // loads the byte. For frames that name their consumer themselves (the
  // mirror's sample header names the flow's queue).
  kFrameByte,
};
const char* to_string(FanoutMode m);

struct FanoutOptions {
  FanoutMode mode = FanoutMode::kHash;
  // nullopt: ask the kernel for an unused id. 0 is a valid id (the kernel's
  // allocator starts there), so it cannot mean "none".
  std::optional<std::uint16_t> group_id{};
  // Reassemble IP fragments before hashing, so all fragments of a datagram
  // reach the member its flow goes to (kHash).
  bool defrag = false;
  // When the chosen member's ring is full, try the others before dropping.
  bool rollover = false;
  // kFrameByte: offset of the byte from the start of the frame (L2).
  std::uint16_t byte_offset = 0;
};

// A fanout group being formed: join() each (bound) socket in turn.
class FanoutGroup {
 public:
  explicit FanoutGroup(const FanoutOptions& opts) : opts_(opts), id_(opts.group_id) {}

  // Adds `fd` (an AF_PACKET socket already bound: the kernel refuses
  // unbound ones with EINVAL). The first join without a group_id allocates the
  // id. Members must be bound to the same interface (or all to none) and use
  // the same mode and flags, or the kernel answers EINVAL.
  Result<void> join(int fd);

  // The group's id once known (given, or allocated by the first join).
  std::optional<std::uint16_t> id() const { return id_; }
  bool formed() const { return joined_ > 0; }
  const FanoutOptions& options() const { return opts_; }

 private:
  FanoutOptions opts_;
  std::optional<std::uint16_t> id_;
  unsigned joined_ = 0;
};

// The group id of a socket that is in a group (getsockopt PACKET_FANOUT).
// A socket in no group reads as id 0, like a member of group 0 in hash mode
// without flags: the kernel offers no way to tell them apart.
Result<std::uint16_t> fanout_group_of(int fd);

}  // namespace netring::packet
