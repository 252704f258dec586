#include "pkg/kevents/drop_reasons.hpp"

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <memory>

namespace netring::kevents {
namespace {

constexpr const char* kPrefix = "SKB_DROP_REASON_";

std::string short_name(const std::string& n) {
  if (n.rfind(kPrefix, 0) == 0) return n.substr(std::char_traits<char>::length(kPrefix));
  if (n.rfind("SKB_", 0) == 0) return n.substr(4);  // SKB_CONSUMED, SKB_NOT_DROPPED_YET
  return n;
}

}  // namespace

Result<DropReasons> DropReasons::from_kernel() {
  std::unique_ptr<struct btf, void (*)(struct btf*)> btf(btf__load_vmlinux_btf(), btf__free);
  if (!btf) {
    const int e = errno;
    return Error("btf__load_vmlinux_btf", e, "/sys/kernel/btf/vmlinux",
                 "the kernel has no BTF (CONFIG_DEBUG_INFO_BTF): drop reasons cannot be named");
  }
  return from_btf(btf.get());
}

Result<DropReasons> DropReasons::from_btf(const struct btf* btf) {
  const __s32 id = btf__find_by_name_kind(btf, "skb_drop_reason", BTF_KIND_ENUM);
  if (id < 0)
    return Error("btf__find_by_name_kind", ENOENT, "enum skb_drop_reason", "the kernel predates drop reasons (5.17)");
  const struct btf_type* t = btf__type_by_id(btf, id);
  DropReasons r;
  const struct btf_enum* e = btf_enum(t);
  for (unsigned i = 0; i < btf_vlen(t); ++i, ++e) {
    const std::string n = btf__name_by_offset(btf, e->name_off);
    const auto v = static_cast<std::uint32_t>(e->val);
    if (n == "SKB_NOT_DROPPED_YET") r.not_dropped_ = v;
    if (n == "SKB_CONSUMED") r.consumed_ = v;
    // SKB_DROP_REASON_MAX and the subsystem markers are bounds, not reasons.
    if (n == "SKB_DROP_REASON_MAX" || n.rfind("SKB_DROP_REASON_SUBSYS", 0) == 0) continue;
    r.names_.emplace(v, short_name(n));
  }
  return r;
}

std::string DropReasons::name(std::uint32_t value) const {
  if (auto it = names_.find(value); it != names_.end()) return it->second;
  return "reason_" + std::to_string(value);
}

std::optional<std::uint32_t> DropReasons::value(const std::string& name) const {
  const std::string s = short_name(name);
  for (const auto& [v, n] : names_)
    if (n == s) return v;
  return std::nullopt;
}

}  // namespace netring::kevents
