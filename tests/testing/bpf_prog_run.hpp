// Runs a loaded BPF program on a crafted packet with BPF_PROG_TEST_RUN
// (bpf_prog_test_run_opts): the program's unit test, no traffic needed.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace netring::testing {

struct ProgRun {
  int err = 0;             // 0, or -errno from the syscall
  std::uint32_t retval = 0;  // the program's return value
  std::vector<std::uint8_t> data;  // packet after the program (data_out)
  std::uint32_t duration_ns = 0;
};

// ctx (struct __sk_buff / xdp_md) is passed in and, if ctx_out is given,
// read back, so a test can set ingress_ifindex, gso_segs, mark, ... and see
// what the program left there.
ProgRun prog_run(int prog_fd, std::span<const std::uint8_t> packet, const void* ctx_in = nullptr,
                 std::size_t ctx_size = 0, void* ctx_out = nullptr, int repeat = 1);

}  // namespace netring::testing
