// The agent's own veth pair that carries sample clones: the sampler clones
// onto the near end's egress, the mirror program stamps and truncates them
// there, and capture reads them on the far end (GSO clones on the AF_XDP
// rung skip the pair: redirected into the far end's receive path).
//
// IPv6 is disabled (sysctl, or addr_gen_mode none over rtnetlink where
// /proc/sys is read-only) and ARP off on both ends, so the kernel itself never
// sends anything on the link (the mirror program drops what is not a
// sample anyway). One queue per capture worker. The pair is removed when
// the MirrorLink dies; a pair left by a crashed agent is deleted and made
// anew, so its queue count and settings are always this agent's.
#pragma once

#include <cstdint>
#include <string>

#include "pkg/common/error.hpp"

namespace netring::datapath {

struct MirrorLinkOptions {
  std::string near_name = "nr-mirror0";
  std::string far_name = "nr-mirror1";
  std::uint32_t queues = 1;
  std::uint32_t mtu = 9000;  // room for a sample header on a full-size frame when snap_len is 0
  // Tests: skip the /proc/sys write and take the rtnetlink path that a
  // container with a read-only /proc/sys takes.
  bool ipv6_off_by_netlink = false;
};

class MirrorLink {
 public:
  // In the calling thread's network namespace.
  static Result<MirrorLink> create(const MirrorLinkOptions& opts);

  MirrorLink(MirrorLink&& o) noexcept;
  MirrorLink& operator=(MirrorLink&&) = delete;
  MirrorLink(const MirrorLink&) = delete;
  MirrorLink& operator=(const MirrorLink&) = delete;
  ~MirrorLink();

  int near_ifindex() const { return near_ifindex_; }
  int far_ifindex() const { return far_ifindex_; }
  const std::string& near_name() const { return opts_.near_name; }
  const std::string& far_name() const { return opts_.far_name; }
  std::uint32_t queues() const { return opts_.queues; }

  // Whether both ends still exist with the index and name they were made
  // with: anyone with CAP_NET_ADMIN in the namespace can delete them.
  bool present() const;

  // Deletes the pair now (the destructor does it otherwise).
  Result<void> remove();

  // Deletes a link by name; ok when it does not exist.
  static Result<void> remove_by_name(const std::string& name);

 private:
  MirrorLink() = default;
  MirrorLinkOptions opts_;
  int near_ifindex_ = 0;
  int far_ifindex_ = 0;
  bool owned_ = false;
};

}  // namespace netring::datapath
