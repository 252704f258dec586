#include "pkg/datapath/programs.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <string>
#include <utility>

#include "bpf/mirror.skel.h"
#include "bpf/sampler.skel.h"

namespace netring::datapath {
namespace {

Error bpf_error(std::string op, int err, std::string ctx = {}) {
  const int e = err < 0 ? -err : err;
  Error out(std::move(op), e, std::move(ctx));
  if (e == EPERM) return std::move(out).with_hint("needs CAP_BPF and CAP_NET_ADMIN (or CAP_SYS_ADMIN)");
  return out;
}

}  // namespace

Result<Programs> Programs::load(const ProgramOptions& opts) {
  Programs p;
  p.opts_ = opts;
  p.sampler_ = sampler_bpf__open();
  if (p.sampler_ == nullptr) return bpf_error("sampler_bpf__open", errno);
  if (int err = sampler_bpf__load(p.sampler_); err != 0) return bpf_error("sampler_bpf__load", err);

  p.mirror_ = mirror_bpf__open();
  if (p.mirror_ == nullptr) return bpf_error("mirror_bpf__open", errno);
  p.mirror_->rodata->snap_len = opts.snap_len;
  p.mirror_->rodata->mirror_queues = opts.mirror_queues == 0 ? 1 : opts.mirror_queues;
  // The mirror reads the rates from the sampler's config map, not a copy.
  if (int err = bpf_map__reuse_fd(p.mirror_->maps.config, bpf_map__fd(p.sampler_->maps.config)); err != 0)
    return bpf_error("bpf_map__reuse_fd", err, "mirror config map");
  if (int err = mirror_bpf__load(p.mirror_); err != 0) return bpf_error("mirror_bpf__load", err);

  const std::uint8_t one = 1;
  for (std::uint16_t port : opts.tunnel_udp_ports) {
    const std::uint32_t key = port;
    if (bpf_map_update_elem(bpf_map__fd(p.sampler_->maps.tunnel_ports), &key, &one, BPF_ANY) != 0)
      return Error::from_errno("bpf_map_update_elem", "tunnel_ports " + std::to_string(port));
  }
  if (auto r = p.write_settings(); !r) return std::move(r).take_error();
  return p;
}

Programs::Programs(Programs&& o) noexcept
    : sampler_(std::exchange(o.sampler_, nullptr)),
      mirror_(std::exchange(o.mirror_, nullptr)),
      opts_(std::move(o.opts_)),
      mirror_ifindex_(o.mirror_ifindex_) {}

Programs& Programs::operator=(Programs&& o) noexcept {
  if (this != &o) {
    this->~Programs();
    new (this) Programs(std::move(o));
  }
  return *this;
}

Programs::~Programs() {
  if (mirror_ != nullptr) mirror_bpf__destroy(mirror_);
  if (sampler_ != nullptr) sampler_bpf__destroy(sampler_);
}

int Programs::sampler_ingress_fd() const {
  return bpf_program__fd(sampler_->progs.sampler_ingress);
}
int Programs::sampler_egress_fd() const {
  return bpf_program__fd(sampler_->progs.sampler_egress);
}
int Programs::mirror_fd() const {
  return bpf_program__fd(mirror_->progs.mirror_egress);
}
void Programs::set_reader_truncates(bool on) {
  // The .bss map is mmapped by the skeleton; the program reads the word
  // once per sample, so a plain volatile store is enough.
  mirror_->bss->socket_truncates = on ? 1 : 0;
}
bool Programs::reader_truncates() const {
  return mirror_->bss->socket_truncates != 0;
}
int Programs::config_map_fd() const {
  return bpf_map__fd(sampler_->maps.config);
}
int Programs::settings_map_fd() const {
  return bpf_map__fd(sampler_->maps.settings);
}
int Programs::heartbeat_map_fd() const {
  return bpf_map__fd(sampler_->maps.heartbeat);
}
int Programs::counters_map_fd() const {
  return bpf_map__fd(sampler_->maps.counters);
}
int Programs::stats_map_fd() const {
  return bpf_map__fd(sampler_->maps.stats);
}
int Programs::mirror_stats_map_fd() const {
  return bpf_map__fd(mirror_->maps.mirror_stats);
}

Result<void> Programs::write_settings() {
  netring_settings s{};
  s.mirror_ifindex = mirror_ifindex_;
  s.heartbeat_timeout_ns = opts_.heartbeat_timeout_ns;
  if (opts_.skip_ipip) s.flags |= NETRING_SET_F_SKIP_IPIP;
  if (opts_.skip_ip6ip) s.flags |= NETRING_SET_F_SKIP_IP6IP;
  const std::uint32_t zero = 0;
  if (bpf_map_update_elem(settings_map_fd(), &zero, &s, BPF_ANY) != 0)
    return Error::from_errno("bpf_map_update_elem", "sampler settings");
  return ok();
}

Result<void> Programs::set_mirror_ifindex(std::uint32_t ifindex) {
  mirror_ifindex_ = ifindex;
  return write_settings();
}

Result<void> Programs::set_interface(std::uint32_t ifindex, std::uint32_t rate, netring_role role) {
  netring_if_config c{rate, static_cast<std::uint32_t>(role)};
  if (bpf_map_update_elem(config_map_fd(), &ifindex, &c, BPF_ANY) != 0)
    return Error::from_errno("bpf_map_update_elem", "sampler config ifindex " + std::to_string(ifindex));
  // Counter entries exist from the start so the program never has to insert
  // them on its hot path.
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return Error("libbpf_num_possible_cpus", -ncpu);
  std::vector<netring_if_counters> zero(static_cast<std::size_t>(ncpu));
  for (std::uint32_t dir : {NETRING_DIR_INGRESS, NETRING_DIR_EGRESS}) {
    netring_if_key k{ifindex, dir};
    if (bpf_map_update_elem(counters_map_fd(), &k, zero.data(), BPF_NOEXIST) != 0 && errno != EEXIST)
      return Error::from_errno("bpf_map_update_elem", "sampler counters ifindex " + std::to_string(ifindex));
  }
  return ok();
}

Result<void> Programs::remove_interface(std::uint32_t ifindex) {
  if (bpf_map_delete_elem(config_map_fd(), &ifindex) != 0 && errno != ENOENT)
    return Error::from_errno("bpf_map_delete_elem", "sampler config ifindex " + std::to_string(ifindex));
  // Pods come and go; their counters must not fill the map. The caller
  // reads the final totals before unhooking.
  for (std::uint32_t dir : {NETRING_DIR_INGRESS, NETRING_DIR_EGRESS}) {
    netring_if_key k{ifindex, dir};
    if (bpf_map_delete_elem(counters_map_fd(), &k) != 0 && errno != ENOENT)
      return Error::from_errno("bpf_map_delete_elem", "sampler counters ifindex " + std::to_string(ifindex));
  }
  return ok();
}

}  // namespace netring::datapath
