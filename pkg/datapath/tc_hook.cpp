#include "pkg/datapath/tc_hook.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <utility>
#include <vector>

#include "pkg/compat/uapi.h"

namespace netring::datapath {
namespace {

std::uint32_t tcx_type(HookPoint p) {
  return p == HookPoint::kIngress ? NETRING_BPF_TCX_INGRESS : NETRING_BPF_TCX_EGRESS;
}

const char* point_name(HookPoint p) {
  return p == HookPoint::kIngress ? "ingress" : "egress";
}

std::string where(int ifindex, HookPoint p) {
  return "ifindex " + std::to_string(ifindex) + " " + point_name(p);
}

Error with_perm_hint(Error e) {
  if (e.code() == EPERM) return std::move(e).with_hint("needs CAP_NET_ADMIN and CAP_BPF (or CAP_SYS_ADMIN)");
  return e;
}

struct ProgInfo {
  std::uint32_t id = 0;
  std::string name;
};

Result<ProgInfo> prog_info_by_fd(int fd) {
  bpf_prog_info info{};
  __u32 len = sizeof info;
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return Error::from_errno("bpf_obj_get_info_by_fd", "program");
  return ProgInfo{info.id, info.name};
}

Result<ProgInfo> prog_info_by_id(std::uint32_t id) {
  UniqueFd fd(bpf_prog_get_fd_by_id(id));
  if (!fd) return Error::from_errno("bpf_prog_get_fd_by_id", "program id " + std::to_string(id));
  return prog_info_by_fd(fd.get());
}

struct TcxEntries {
  std::vector<std::uint32_t> prog_ids;
  std::vector<std::uint32_t> link_ids;  // 0 for programs attached without a link
};

Result<TcxEntries> tcx_query(int ifindex, HookPoint point) {
  // Two passes: the count first, then the ids (the hook may change between
  // them; the second call reports ENOSPC then and we retry once more).
  for (int attempt = 0; attempt < 4; ++attempt) {
    netring_bpf_query_attr q{};
    q.target_ifindex = static_cast<__u32>(ifindex);
    q.attach_type = tcx_type(point);
    if (::syscall(__NR_bpf, BPF_PROG_QUERY, &q, sizeof q) != 0)
      return with_perm_hint(Error::from_errno("bpf(BPF_PROG_QUERY)", where(ifindex, point)));
    TcxEntries e;
    if (q.count == 0) return e;
    e.prog_ids.resize(q.count);
    e.link_ids.resize(q.count);
    const __u32 n = q.count;
    q = {};
    q.target_ifindex = static_cast<__u32>(ifindex);
    q.attach_type = tcx_type(point);
    q.prog_ids = reinterpret_cast<std::uintptr_t>(e.prog_ids.data());
    q.link_ids = reinterpret_cast<std::uintptr_t>(e.link_ids.data());
    q.count = n;
    if (::syscall(__NR_bpf, BPF_PROG_QUERY, &q, sizeof q) != 0) {
      if (errno == ENOSPC) continue;
      return with_perm_hint(Error::from_errno("bpf(BPF_PROG_QUERY)", where(ifindex, point)));
    }
    e.prog_ids.resize(q.count);
    e.link_ids.resize(q.count);
    return e;
  }
  return Error("bpf(BPF_PROG_QUERY)", EAGAIN, where(ifindex, point) + ": hook kept changing");
}

}  // namespace

const char* to_string(AttachMode m) {
  switch (m) {
    case AttachMode::kAuto: return "auto";
    case AttachMode::kTcx: return "tcx";
    case AttachMode::kClsact: return "clsact";
  }
  return "?";
}

bool tcx_supported() {
  // Loopback always exists; a kernel without tcx rejects the attach type.
  netring_bpf_query_attr q{};
  q.target_ifindex = 1;
  q.attach_type = NETRING_BPF_TCX_INGRESS;
  return ::syscall(__NR_bpf, BPF_PROG_QUERY, &q, sizeof q) == 0;
}

Result<std::vector<std::uint32_t>> tcx_program_ids(int ifindex, HookPoint point) {
  auto e = tcx_query(ifindex, point);
  if (!e) return std::move(e).take_error();
  return std::move(e->prog_ids);
}

Result<TcHook> TcHook::attach(int ifindex, HookPoint point, int prog_fd, AttachMode mode) {
  TcHook h;
  h.ifindex_ = ifindex;
  h.point_ = point;
  h.prog_fd_ = prog_fd;
  auto info = prog_info_by_fd(prog_fd);
  if (!info) return std::move(info).take_error();
  h.prog_id_ = info->id;
  h.prog_name_ = info->name;
  if (mode == AttachMode::kAuto) mode = tcx_supported() ? AttachMode::kTcx : AttachMode::kClsact;
  h.mode_ = mode;
  auto r = mode == AttachMode::kTcx ? h.attach_tcx() : h.attach_clsact();
  if (!r) return std::move(r).take_error();
  h.attached_ = true;
  return h;
}

Result<void> TcHook::attach_tcx() {
  // Stale links of an earlier agent (pinned, or held by a process still
  // exiting): same program name, another program id.
  auto entries = tcx_query(ifindex_, point_);
  if (!entries) return std::move(entries).take_error();
  for (std::size_t i = 0; i < entries->prog_ids.size(); ++i) {
    const std::uint32_t pid = entries->prog_ids[i], lid = entries->link_ids[i];
    if (pid == prog_id_ || lid == 0) continue;
    auto pi = prog_info_by_id(pid);
    if (!pi || pi->name != prog_name_) continue;
    UniqueFd lfd(bpf_link_get_fd_by_id(lid));
    if (lfd) bpf_link_detach(lfd.get());
  }

  LIBBPF_OPTS(bpf_link_create_opts, opts);
  // BPF_F_BEFORE without a relative program: the head of the chain.
  opts.flags = BPF_F_BEFORE;
  int fd = bpf_link_create(prog_fd_, ifindex_, static_cast<bpf_attach_type>(tcx_type(point_)), &opts);
  if (fd < 0) {
    errno = -fd;
    return with_perm_hint(Error::from_errno("bpf_link_create(tcx)", where(ifindex_, point_) + " " + prog_name_));
  }
  link_.reset(fd);
  return ok();
}

Result<void> TcHook::attach_clsact() {
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex_,
              .attach_point = point_ == HookPoint::kIngress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
  if (int err = bpf_tc_hook_create(&hook); err != 0 && err != -EEXIST) {
    errno = -err;
    return with_perm_hint(Error::from_errno("bpf_tc_hook_create(clsact)", where(ifindex_, point_)));
  }
  // Something at our handle/priority: replace it only if it is netring's.
  LIBBPF_OPTS(bpf_tc_opts, q, .handle = kClsactHandle, .priority = kClsactPriority);
  if (bpf_tc_query(&hook, &q) == 0 && q.prog_id != prog_id_) {
    auto pi = prog_info_by_id(q.prog_id);
    if (pi && pi->name != prog_name_)
      return Error("bpf_tc_attach(clsact)", EEXIST,
                   where(ifindex_, point_) + ": handle/priority taken by program " + pi->name);
  }
  LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd_, .flags = BPF_TC_F_REPLACE, .handle = kClsactHandle,
              .priority = kClsactPriority);
  if (int err = bpf_tc_attach(&hook, &opts); err != 0) {
    errno = -err;
    return with_perm_hint(Error::from_errno("bpf_tc_attach(clsact)", where(ifindex_, point_) + " " + prog_name_));
  }
  return ok();
}

Result<bool> TcHook::ensure_first() {
  if (!attached_ || mode_ != AttachMode::kTcx) return false;
  auto entries = tcx_query(ifindex_, point_);
  if (!entries) return std::move(entries).take_error();
  if (!entries->prog_ids.empty() && entries->prog_ids.front() == prog_id_) return false;
  // A link cannot move and a program cannot be on one hook twice: detach,
  // then attach at the head again. Packets in between are neither counted
  // nor sampled; they still pass.
  if (link_) bpf_link_detach(link_.get());
  link_.reset();
  if (auto r = attach_tcx(); !r) {
    attached_ = false;
    return std::move(r).take_error();
  }
  return true;
}

Result<void> TcHook::detach() {
  if (!attached_) return ok();
  attached_ = false;
  if (mode_ == AttachMode::kTcx) {
    if (link_ && bpf_link_detach(link_.get()) != 0 && errno != ENOLINK && errno != ENODEV) {
      link_.reset();
      return Error::from_errno("bpf_link_detach", where(ifindex_, point_));
    }
    link_.reset();
    return ok();
  }
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex_,
              .attach_point = point_ == HookPoint::kIngress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
  LIBBPF_OPTS(bpf_tc_opts, q, .handle = kClsactHandle, .priority = kClsactPriority);
  // Only the filter still running our program is ours to remove; the
  // interface may be gone (pod deleted), which removed the filter with it.
  if (bpf_tc_query(&hook, &q) != 0 || q.prog_id != prog_id_) return ok();
  LIBBPF_OPTS(bpf_tc_opts, d, .handle = kClsactHandle, .priority = kClsactPriority);
  if (int err = bpf_tc_detach(&hook, &d); err != 0 && err != -ENOENT && err != -ENODEV) {
    errno = -err;
    return Error::from_errno("bpf_tc_detach(clsact)", where(ifindex_, point_));
  }
  return ok();
}

std::string TcHook::describe() const {
  return std::string(to_string(mode_)) + " " + where(ifindex_, point_) + " " + prog_name_;
}

TcHook::TcHook(TcHook&& o) noexcept
    : ifindex_(o.ifindex_),
      point_(o.point_),
      mode_(o.mode_),
      prog_fd_(o.prog_fd_),
      prog_id_(o.prog_id_),
      prog_name_(std::move(o.prog_name_)),
      link_(std::move(o.link_)),
      attached_(std::exchange(o.attached_, false)) {}

TcHook& TcHook::operator=(TcHook&& o) noexcept {
  if (this != &o) {
    (void)detach();
    ifindex_ = o.ifindex_;
    point_ = o.point_;
    mode_ = o.mode_;
    prog_fd_ = o.prog_fd_;
    prog_id_ = o.prog_id_;
    prog_name_ = std::move(o.prog_name_);
    link_ = std::move(o.link_);
    attached_ = std::exchange(o.attached_, false);
  }
  return *this;
}

TcHook::~TcHook() {
  (void)detach();
}

}  // namespace netring::datapath
