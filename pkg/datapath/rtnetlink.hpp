// A route netlink socket (libmnl) for the few link requests the data path
// makes: requests are acknowledged one at a time, errors come back as
// values with the kernel's errno.
#pragma once

#include <cstdint>
#include <string>

#include "pkg/common/error.hpp"

struct mnl_socket;
struct nlmsghdr;

namespace netring::datapath {

class Rtnetlink {
 public:
  // Bound in the calling thread's network namespace.
  static Result<Rtnetlink> open();
  Rtnetlink(Rtnetlink&& o) noexcept;
  Rtnetlink& operator=(Rtnetlink&&) = delete;
  Rtnetlink(const Rtnetlink&) = delete;
  Rtnetlink& operator=(const Rtnetlink&) = delete;
  ~Rtnetlink();

  // Sends `nlh` (NLM_F_ACK is added) and waits for the acknowledgement;
  // `what` names the request in the error.
  Result<void> request(nlmsghdr* nlh, const std::string& what);
  std::uint32_t next_seq() { return ++seq_; }

 private:
  explicit Rtnetlink(mnl_socket* s) : sock_(s) {}
  mnl_socket* sock_ = nullptr;
  std::uint32_t seq_ = 0;
};

}  // namespace netring::datapath
