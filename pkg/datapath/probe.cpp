#include "pkg/datapath/probe.hpp"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <sys/socket.h>

#include <cstring>

#include "pkg/common/error.hpp"
#include "pkg/common/fd.hpp"
#include "pkg/datapath/tc_hook.hpp"

#ifndef AF_XDP
#define AF_XDP 44
#endif

namespace netring::datapath {

Features probe_features() {
  Features f;
  const bpf_insn insns[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = TC_ACT_UNSPEC},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  UniqueFd prog(bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "netring_probe", "GPL", insns, 2, nullptr));
  if (prog) {
    f.bpf_loading = true;
  } else {
    const int err = -prog.release();
    f.bpf_error =
        Error("bpf_prog_load(SCHED_CLS)", err, "probe program", err == EPERM ? "needs CAP_BPF and CAP_NET_ADMIN" : "")
            .message();
  }
  f.tcx = f.bpf_loading && tcx_supported();
  UniqueFd xsk(::socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0));
  if (xsk) {
    f.af_xdp = true;
  } else {
    const int err = errno;
    f.af_xdp_error = Error("socket(AF_XDP)", err, "", err == EPERM ? "needs CAP_NET_RAW" : "").message();
  }
  return f;
}

}  // namespace netring::datapath
