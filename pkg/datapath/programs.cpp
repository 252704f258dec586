#include "pkg/datapath/programs.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <map>
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

const char* to_string(ExactFlows e) {
  switch (e) {
    case ExactFlows::kOff: return "off";
    case ExactFlows::kBulk: return "bulk";
    case ExactFlows::kAll: return "all";
  }
  return "?";
}

Result<Programs> Programs::load(const ProgramOptions& opts) {
  Programs p;
  p.opts_ = opts;
  if (p.opts_.mirror_queues == 0) p.opts_.mirror_queues = 1;
  if (p.opts_.mirror_queues > NETRING_MAX_QUEUES)
    return Error::invalid("Programs::load", "mirror queues " + std::to_string(p.opts_.mirror_queues) + " > " +
                                                std::to_string(NETRING_MAX_QUEUES));
  if (p.opts_.flow_map_entries == 0) p.opts_.flow_map_entries = 1;
  p.slot_used_.assign(NETRING_MAX_INTERFACES, false);
  p.sampler_ = sampler_bpf__open();
  if (p.sampler_ == nullptr) return bpf_error("sampler_bpf__open", errno);
  // The map-in-map compares an inner hash map with its template by type,
  // key, value and flags, not size: only the two real maps are sized.
  for (bpf_map* m : {p.sampler_->maps.flows_a, p.sampler_->maps.flows_b})
    if (int err = bpf_map__set_max_entries(m, p.opts_.flow_map_entries); err != 0)
      return bpf_error("bpf_map__set_max_entries", err, "flow count maps");
  p.sampler_->rodata->parse_fast_path = p.opts_.parse_fast_path ? 1 : 0;
  if (int err = sampler_bpf__load(p.sampler_); err != 0) return bpf_error("sampler_bpf__load", err);

  p.mirror_ = mirror_bpf__open();
  if (p.mirror_ == nullptr) return bpf_error("mirror_bpf__open", errno);
  p.mirror_->rodata->snap_len = opts.snap_len;
  p.mirror_->rodata->mirror_queues = opts.mirror_queues == 0 ? 1 : opts.mirror_queues;
  // The mirror reads the rates from the sampler's config map, not a copy.
  if (int err = bpf_map__reuse_fd(p.mirror_->maps.config, bpf_map__fd(p.sampler_->maps.config)); err != 0)
    return bpf_error("bpf_map__reuse_fd", err, "mirror config map");
  if (int err = mirror_bpf__load(p.mirror_); err != 0) return bpf_error("mirror_bpf__load", err);

  std::map<std::uint32_t, std::uint8_t> ports;
  for (std::uint16_t port : opts.tunnel_udp_ports) ports[port] |= NETRING_PORT_SKIP_EGRESS;
  for (std::uint16_t port : opts.vxlan_ports) ports[port] |= NETRING_PORT_VXLAN;
  for (std::uint16_t port : opts.geneve_ports)
    if (!(ports[port] & NETRING_PORT_VXLAN)) ports[port] |= NETRING_PORT_GENEVE;  // VXLAN wins, as in flow::Parser
  for (const auto& [port, flags] : ports) {
    if (bpf_map_update_elem(bpf_map__fd(p.sampler_->maps.tunnel_ports), &port, &flags, BPF_ANY) != 0)
      return Error::from_errno("bpf_map_update_elem", "tunnel_ports " + std::to_string(port));
  }
  for (std::uint16_t port : opts.dns_ports) {
    const std::uint32_t key = port;
    const std::uint8_t on = 1;
    if (bpf_map_update_elem(bpf_map__fd(p.sampler_->maps.dns_ports), &key, &on, BPF_ANY) != 0)
      return Error::from_errno("bpf_map_update_elem", "dns_ports " + std::to_string(port));
  }
  if (auto r = p.write_settings(); !r) return std::move(r).take_error();
  return p;
}

Programs::Programs(Programs&& o) noexcept
    : sampler_(std::exchange(o.sampler_, nullptr)),
      mirror_(std::exchange(o.mirror_, nullptr)),
      opts_(std::move(o.opts_)),
      mirror_ifindex_(o.mirror_ifindex_),
      gso_apart_(o.gso_apart_),
      slots_(std::move(o.slots_)),
      slot_used_(std::move(o.slot_used_)) {}

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
Result<void> Programs::set_gso_apart(std::uint32_t far_ifindex) {
  // The sampler numbers GSO clones apart before the mirror sends them
  // apart, and the other way round when turning it off: in between, a
  // clone in flight may count as a gap, never be lost uncounted.
  gso_apart_ = far_ifindex != 0;
  if (gso_apart_)
    if (auto r = write_settings(); !r) return r;
  mirror_->bss->gso_ingress_ifindex = far_ifindex;
  if (!gso_apart_) return write_settings();
  return ok();
}
std::uint32_t Programs::gso_apart() const {
  return mirror_->bss->gso_ingress_ifindex;
}
int Programs::config_map_fd() const {
  return bpf_map__fd(sampler_->maps.config);
}
int Programs::config_direct_map_fd() const {
  return bpf_map__fd(sampler_->maps.config_direct);
}
int Programs::settings_map_fd() const {
  return bpf_map__fd(sampler_->maps.settings);
}
int Programs::heartbeat_map_fd() const {
  return bpf_map__fd(sampler_->maps.heartbeat);
}
int Programs::if_counters_map_fd() const {
  return bpf_map__fd(sampler_->maps.if_counters);
}
int Programs::flow_maps_fd() const {
  return bpf_map__fd(sampler_->maps.flow_maps);
}
int Programs::flow_map_fd(int which) const {
  return bpf_map__fd(which == 0 ? sampler_->maps.flows_a : sampler_->maps.flows_b);
}
int Programs::stats_map_fd() const {
  return bpf_map__fd(sampler_->maps.stats);
}
int Programs::seqs_map_fd() const {
  return bpf_map__fd(sampler_->maps.seqs);
}
int Programs::copy_scale_map_fd() const {
  return bpf_map__fd(sampler_->maps.copy_scale);
}
int Programs::handshakes_map_fd() const {
  return bpf_map__fd(sampler_->maps.handshakes);
}
int Programs::handshake_slots_map_fd() const {
  return bpf_map__fd(sampler_->maps.handshake_slots);
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
  if (opts_.copy_dns) s.flags |= NETRING_SET_F_COPY_DNS;
  if (opts_.copy_tcp_control) s.flags |= NETRING_SET_F_COPY_TCP_CONTROL;
  if (gso_apart_) s.flags |= NETRING_SET_F_GSO_APART;
  s.exact_mode = static_cast<std::uint32_t>(opts_.exact_flows);
  s.mirror_queues = opts_.mirror_queues;
  // The dns_ports map holds them all; the first few are compared in place
  // too, and the program looks at the map only when there are more.
  s.dns_port_count = static_cast<std::uint32_t>(opts_.dns_ports.size());
  for (std::size_t i = 0; i < opts_.dns_ports.size() && i < NETRING_DNS_PORTS_INLINE; ++i)
    s.dns_port[i] = opts_.dns_ports[i];
  s.copy_budget = opts_.copy_budget;
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
  auto it = slots_.find(ifindex);
  if (it == slots_.end()) {
    auto free = std::find(slot_used_.begin(), slot_used_.end(), false);
    if (free == slot_used_.end())
      return Error::invalid("Programs::set_interface", "ifindex " + std::to_string(ifindex) + ": all " +
                                                           std::to_string(NETRING_MAX_INTERFACES) +
                                                           " interface counter slots are in use");
    const auto slot = static_cast<std::uint32_t>(free - slot_used_.begin());
    // Zero both directions before the config entry makes the slot
    // reachable: what a previous interface left there is not ours.
    const int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0) return Error("libbpf_num_possible_cpus", -ncpu);
    std::vector<netring_if_counters> zero(static_cast<std::size_t>(ncpu));
    for (std::uint32_t dir : {NETRING_DIR_INGRESS, NETRING_DIR_EGRESS}) {
      const std::uint32_t idx = slot * 2 + dir;
      if (bpf_map_update_elem(if_counters_map_fd(), &idx, zero.data(), BPF_ANY) != 0)
        return Error::from_errno("bpf_map_update_elem", "interface counters slot " + std::to_string(slot));
    }
    slot_used_[slot] = true;
    it = slots_.emplace(ifindex, slot).first;
  }
  netring_if_config c{rate, static_cast<std::uint32_t>(role), it->second, 1};
  if (bpf_map_update_elem(config_map_fd(), &ifindex, &c, BPF_ANY) != 0) {
    const Error e = Error::from_errno("bpf_map_update_elem", "sampler config ifindex " + std::to_string(ifindex));
    slot_used_[it->second] = false;
    slots_.erase(it);
    return e;
  }
  if (ifindex < NETRING_CONFIG_DIRECT) {
    // An array value is copied in place, not swapped like a hash element: a
    // program may read it mid-copy. So the values go in with present = 0
    // first, and present = 1 alone after (only the rate can change on a
    // hooked interface, one aligned word).
    const bool hooked = direct_present(ifindex);
    netring_if_config absent = c;
    absent.present = 0;
    if ((!hooked && bpf_map_update_elem(config_direct_map_fd(), &ifindex, &absent, BPF_ANY) != 0) ||
        bpf_map_update_elem(config_direct_map_fd(), &ifindex, &c, BPF_ANY) != 0)
      return Error::from_errno("bpf_map_update_elem", "sampler config_direct ifindex " + std::to_string(ifindex));
  }
  return ok();
}

bool Programs::direct_present(std::uint32_t ifindex) const {
  netring_if_config c{};
  return bpf_map_lookup_elem(config_direct_map_fd(), &ifindex, &c) == 0 && c.present != 0;
}

Result<void> Programs::remove_interface(std::uint32_t ifindex) {
  if (ifindex < NETRING_CONFIG_DIRECT) {
    netring_if_config c{};
    if (bpf_map_lookup_elem(config_direct_map_fd(), &ifindex, &c) == 0 && c.present != 0) {
      c.present = 0;  // the other words stay as they were: a read mid-copy sees one or the other
      if (bpf_map_update_elem(config_direct_map_fd(), &ifindex, &c, BPF_ANY) != 0)
        return Error::from_errno("bpf_map_update_elem", "sampler config_direct ifindex " + std::to_string(ifindex));
    }
  }
  if (bpf_map_delete_elem(config_map_fd(), &ifindex) != 0 && errno != ENOENT)
    return Error::from_errno("bpf_map_delete_elem", "sampler config ifindex " + std::to_string(ifindex));
  // The slot is zeroed when it is handed out again, not here: a program run
  // that found the config entry just before the delete may still add to it.
  if (auto it = slots_.find(ifindex); it != slots_.end()) {
    slot_used_[it->second] = false;
    slots_.erase(it);
  }
  return ok();
}

Result<InterfaceCounters> Programs::interface_counters(std::uint32_t ifindex, std::uint32_t direction) const {
  auto it = slots_.find(ifindex);
  if (it == slots_.end()) return InterfaceCounters{ifindex, direction};
  return read_interface_slot(if_counters_map_fd(), it->second * 2 + direction, ifindex, direction);
}

Result<std::vector<InterfaceCounters>> Programs::all_interface_counters() const {
  std::vector<InterfaceCounters> out;
  out.reserve(slots_.size() * 2);
  for (const auto& [ifindex, slot] : slots_)
    for (std::uint32_t dir : {NETRING_DIR_INGRESS, NETRING_DIR_EGRESS}) {
      auto c = read_interface_slot(if_counters_map_fd(), slot * 2 + dir, ifindex, dir);
      if (!c) return std::move(c).take_error();
      out.push_back(*c);
    }
  return out;
}

}  // namespace netring::datapath
