// Whether this thread holds a capability in its effective set, for naming
// the missing one in an error. capget directly: no libcap for one bit.
#pragma once

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace netring {

inline bool has_effective_capability(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (::syscall(SYS_capget, &hdr, data) != 0) return true;  // unknown: do not blame a capability
  if (cap < 0 || cap / 32 >= _LINUX_CAPABILITY_U32S_3) return false;
  return (data[cap / 32].effective & (1U << (cap % 32))) != 0;
}

}  // namespace netring
