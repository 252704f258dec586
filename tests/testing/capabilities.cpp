#include "tests/testing/capabilities.hpp"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <exception>

namespace netring::testing {

bool drop_caps(std::initializer_list<int> caps) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &hdr, data) != 0) return false;
  for (int c : caps) {
    const unsigned bit = 1u << (c % 32);
    data[c / 32].effective &= ~bit;
    data[c / 32].permitted &= ~bit;
    data[c / 32].inheritable &= ~bit;
  }
  return ::syscall(SYS_capset, &hdr, data) == 0;
}

std::string in_child(const std::function<std::string()>& fn) {
  int p[2];
  if (::pipe(p) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    std::string r;
    try {
      r = fn();
    } catch (const std::exception& e) {
      r = std::string("exception: ") + e.what();
    }
    (void)!::write(p[1], r.data(), r.size());
    ::_exit(0);
  }
  ::close(p[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(p[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status)) return "child died";
  return out;
}

}  // namespace netring::testing
