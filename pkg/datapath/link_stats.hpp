// A device's own receive counters (IFLA_STATS64 over rtnetlink): every
// frame the interface received, whatever became of it afterwards. A capture
// port on TPACKET_V3 has no XDP program to count its frames, and a sampling
// socket filter sees only what it keeps, so the device counts them.
#pragma once

#include <cstdint>
#include <memory>

#include "pkg/common/error.hpp"

struct mnl_socket;

namespace netring::datapath {

struct LinkCounts {
  std::uint64_t rx_packets = 0;
  std::uint64_t rx_bytes = 0;  // as the driver counts them (veth: L2 frame, no FCS)
};

class LinkStats {
 public:
  // Opens its rtnetlink socket in the calling thread's network namespace:
  // read() then works from any thread.
  static Result<LinkStats> open(std::uint32_t ifindex);
  Result<LinkCounts> read() const;

 private:
  struct Deleter {
    void operator()(mnl_socket* s) const;
  };
  std::unique_ptr<mnl_socket, Deleter> nl_;
  std::uint32_t ifindex_ = 0;
};

}  // namespace netring::datapath
