#include "pkg/packet/filter.hpp"

#include <bpf/libbpf.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>

#include <climits>

#include "bpf/socket_sampler.skel.h"
#include "pkg/bpf/skeleton.hpp"

namespace netring::packet {
namespace {

// Whole packet: the kernel clamps a filter's return value to the packet length.
constexpr std::uint32_t kWhole = 0xffffffffU;

}  // namespace

Result<void> attach_classic(int fd, std::span<const sock_filter> prog, const std::string& what) {
  if (prog.empty() || prog.size() > BPF_MAXINSNS)
    return Error::invalid("SO_ATTACH_FILTER", what + ": classic program of " + std::to_string(prog.size()) +
                                                  " instructions (1.." + std::to_string(BPF_MAXINSNS) + ")");
  sock_fprog fprog{static_cast<unsigned short>(prog.size()), const_cast<sock_filter*>(prog.data())};
  if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)) != 0)
    return Error::from_errno("setsockopt(SO_ATTACH_FILTER)", what);
  return ok();
}

Result<void> attach_ebpf(int fd, int prog_fd, const std::string& what) {
  if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_BPF, &prog_fd, sizeof(prog_fd)) != 0)
    return Error::from_errno("setsockopt(SO_ATTACH_BPF)", what);
  return ok();
}

Result<void> detach_filter(int fd) {
  const int unused = 0;
  if (::setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof(unused)) != 0 && errno != ENOENT)
    return Error::from_errno("setsockopt(SO_DETACH_FILTER)");
  return ok();
}

ClassicProgram classic_sampler(std::uint32_t rate, std::uint32_t snap_len) {
  const std::uint32_t keep = snap_len != 0 ? snap_len : kWhole;
  if (rate == 0) return {BPF_STMT(BPF_RET | BPF_K, 0)};
  if (rate == 1) return {BPF_STMT(BPF_RET | BPF_K, keep)};
  return {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<std::uint32_t>(SKF_AD_OFF + SKF_AD_RANDOM)),
      BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, rate),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, keep),
      BPF_STMT(BPF_RET | BPF_K, 0),
  };
}

Result<EbpfSampler> EbpfSampler::load(std::uint32_t rate, std::uint32_t snap_len) {
  using Skel = bpf::Skeleton<socket_sampler_bpf, socket_sampler_bpf__destroy>;
  Skel skel(socket_sampler_bpf__open());
  if (!skel) return Error::from_errno("socket_sampler_bpf__open");
  skel->rodata->sample_rate = rate;
  skel->rodata->snap_len = snap_len;
  if (const int err = socket_sampler_bpf__load(skel.get()); err != 0) {
    const int e = -err;
    return Error("socket_sampler_bpf__load", e, "1-in-" + std::to_string(rate) + " eBPF socket filter",
                 e == EPERM ? "needs CAP_BPF (or CAP_SYS_ADMIN)" : "");
  }
  // Keep only the program: dup its fd so the skeleton (maps, object) can go.
  const int fd = ::fcntl(bpf_program__fd(skel->progs.socket_sampler), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return Error::from_errno("dup(socket_sampler prog fd)");
  return EbpfSampler(UniqueFd(fd));
}

}  // namespace netring::packet
