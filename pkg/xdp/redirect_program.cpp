#include "pkg/xdp/redirect_program.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>

#include <algorithm>
#include <cstring>

#include "bpf/xsk_redirect.skel.h"
#include "pkg/common/capability.hpp"

namespace netring::xdp {

namespace {

std::string ifname_of(std::uint32_t ifindex) {
  char buf[IF_NAMESIZE] = {};
  if (::if_indextoname(ifindex, buf) == nullptr) return "ifindex " + std::to_string(ifindex);
  return buf;
}

Error bpf_error(std::string op, int err, const std::string& ctx) {
  Error e(std::move(op), err, ctx);
  if (err == EPERM || err == EACCES)
    return std::move(e).with_hint("loading and attaching BPF needs CAP_BPF and CAP_NET_ADMIN (or CAP_SYS_ADMIN)");
  return e;
}

// xsk_redirect does pointer arithmetic on packet pointers, which the
// verifier allows only with CAP_PERFMON (bpf_allow_ptr_leaks(), "pointer
// arithmetic prohibited for !root"); without it the load fails with EACCES
// even though CAP_BPF is there.
Error load_error(int err, const std::string& ctx) {
  if ((err == EACCES || err == EPERM) && !has_effective_capability(CAP_PERFMON) &&
      !has_effective_capability(CAP_SYS_ADMIN))
    return Error("bpf(BPF_PROG_LOAD) xsk_redirect", err, ctx,
                 "the verifier accepts xsk_redirect only with CAP_PERFMON (or CAP_SYS_ADMIN); loading also needs "
                 "CAP_BPF and CAP_NET_ADMIN");
  return bpf_error("bpf(BPF_PROG_LOAD) xsk_redirect", err, ctx);
}

}  // namespace

void RedirectProgram::SkelDeleter::operator()(xsk_redirect_bpf* s) const {
  xsk_redirect_bpf__destroy(s);
}

int RedirectProgram::program_fd() const {
  return bpf_program__fd(skel_->progs.xsk_redirect);
}
int RedirectProgram::xskmap_fd() const {
  return bpf_map__fd(skel_->maps.xsks);
}

Result<RedirectProgram> RedirectProgram::attach(std::uint32_t ifindex, const RedirectOptions& opts) {
  const std::string ctx = ifname_of(ifindex);
  RedirectProgram p;
  p.ifindex_ = ifindex;
  p.skel_.reset(xsk_redirect_bpf__open());
  if (!p.skel_) return bpf_error("xsk_redirect_bpf__open", errno, ctx);
  if (opts.sample_rate == 0 || (opts.sample_rate > 1 && !opts.count_frames))
    return Error::invalid("XDP redirect program", ctx + ": sample rate " + std::to_string(opts.sample_rate) +
                                                      " (1-in-N, N >= 1, and only with frame counting)");
  p.skel_->rodata->miss_action = opts.miss_action == MissAction::kDrop ? XDP_DROP : XDP_PASS;
  p.skel_->rodata->count_frames = opts.count_frames ? 1 : 0;
  p.skel_->rodata->sample_rate = opts.sample_rate;
  p.sample_rate_ = opts.sample_rate;
  if (int err = xsk_redirect_bpf__load(p.skel_.get()); err != 0) return load_error(-err, ctx);

  const int prog = p.program_fd();
  auto link_with = [&](std::uint32_t flags) -> int {
    LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = flags);
    int fd = bpf_link_create(prog, static_cast<int>(ifindex), BPF_XDP, &lo);
    return fd < 0 ? -errno : fd;
  };
  int fd = -EOPNOTSUPP;
  if (!opts.force_generic) {
    fd = link_with(XDP_FLAGS_DRV_MODE);
    if (fd >= 0) {
      p.native_ = true;
    } else {
      p.fallback_reason_ = std::string("native XDP attach failed: ") + std::strerror(-fd);
      if (-fd == EPERM || -fd == EACCES) return bpf_error("bpf(BPF_LINK_CREATE) XDP native", -fd, ctx);
      if (opts.require_native)
        return Error("bpf(BPF_LINK_CREATE) XDP native", -fd, ctx,
                     "the driver has no native XDP (generic mode not allowed here)");
    }
  } else {
    p.fallback_reason_ = "generic mode requested";
  }
  if (!p.native_) {
    fd = link_with(XDP_FLAGS_SKB_MODE);
    if (fd < 0) return bpf_error("bpf(BPF_LINK_CREATE) XDP generic", -fd, ctx);
  }
  p.link_.reset(fd);
  return p;
}

Result<void> RedirectProgram::register_socket(std::uint32_t queue, int socket_fd) {
  if (queue >= kMaxQueues) return Error::invalid("XSKMAP update", "queue " + std::to_string(queue) + " >= 256");
  const std::uint32_t key = queue;
  const std::uint32_t value = static_cast<std::uint32_t>(socket_fd);
  if (bpf_map_update_elem(xskmap_fd(), &key, &value, BPF_ANY) != 0)
    return bpf_error("bpf(BPF_MAP_UPDATE_ELEM) XSKMAP", errno, ifname_of(ifindex_) + " queue " + std::to_string(queue));
  return ok();
}

Result<void> RedirectProgram::unregister_socket(std::uint32_t queue) {
  const std::uint32_t key = queue;
  if (bpf_map_delete_elem(xskmap_fd(), &key) != 0 && errno != ENOENT)
    return bpf_error("bpf(BPF_MAP_DELETE_ELEM) XSKMAP", errno, ifname_of(ifindex_) + " queue " + std::to_string(queue));
  return ok();
}

Result<RedirectCounters> RedirectProgram::counters(std::uint32_t queue) const {
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return Error("libbpf_num_possible_cpus", -ncpu);
  std::vector<RedirectCounters> per_cpu(static_cast<std::size_t>(ncpu));
  static_assert(sizeof(RedirectCounters) == 5 * sizeof(std::uint64_t), "the map value's layout (xsk_redirect.bpf.c)");
  const std::uint32_t key = queue;
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.counters), &key, per_cpu.data()) != 0)
    return bpf_error("bpf(BPF_MAP_LOOKUP_ELEM) counters", errno, ifname_of(ifindex_));
  RedirectCounters c;
  for (const auto& s : per_cpu) c += s;
  return c;
}

Result<RedirectCounters> RedirectProgram::totals(std::uint32_t queues) const {
  RedirectCounters t;
  for (std::uint32_t q = 0; q < std::min(queues, kMaxQueues); ++q) {
    auto c = counters(q);
    if (!c) return std::move(c).take_error();
    t += *c;
  }
  return t;
}

}  // namespace netring::xdp
