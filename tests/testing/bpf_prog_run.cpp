#include "tests/testing/bpf_prog_run.hpp"

#include <bpf/bpf.h>

namespace netring::testing {

ProgRun prog_run(int prog_fd, std::span<const std::uint8_t> packet, const void* ctx_in, std::size_t ctx_size,
                 void* ctx_out, int repeat) {
  ProgRun r;
  // Room for programs that grow the packet (bpf_xdp_adjust_head, encap).
  r.data.resize(packet.size() + 512);
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  opts.data_in = packet.data();
  opts.data_size_in = static_cast<__u32>(packet.size());
  opts.data_out = r.data.data();
  opts.data_size_out = static_cast<__u32>(r.data.size());
  opts.ctx_in = ctx_in;
  opts.ctx_size_in = static_cast<__u32>(ctx_in != nullptr ? ctx_size : 0);
  opts.ctx_out = ctx_out;
  opts.ctx_size_out = static_cast<__u32>(ctx_out != nullptr ? ctx_size : 0);
  opts.repeat = repeat;
  r.err = bpf_prog_test_run_opts(prog_fd, &opts);
  r.retval = opts.retval;
  r.duration_ns = opts.duration;
  r.data.resize(r.err == 0 ? opts.data_size_out : 0);
  return r;
}

}  // namespace netring::testing
