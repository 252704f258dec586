#include "pkg/datapath/heartbeat.hpp"

#include <bpf/bpf.h>

#include <ctime>

namespace netring::datapath {

Result<void> Heartbeat::write(std::uint64_t monotonic_ns) {
  const std::uint32_t zero = 0;
  if (bpf_map_update_elem(map_fd_, &zero, &monotonic_ns, BPF_ANY) != 0)
    return Error::from_errno("bpf_map_update_elem", "sampler heartbeat map");
  return ok();
}

std::uint64_t Heartbeat::now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace netring::datapath
