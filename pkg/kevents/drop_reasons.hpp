// Names of the kernel's drop reasons (enum skb_drop_reason), read from the
// running kernel's BTF: the enum grows with every release and its numbers
// move (6.2 inserted SKB_CONSUMED at 1, shifting every reason after it), so
// a table compiled in would name drops wrongly on some kernel.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "pkg/common/error.hpp"

struct btf;

namespace netring::kevents {

class DropReasons {
 public:
  // The enum of /sys/kernel/btf/vmlinux (libbpf's btf__load_vmlinux_btf).
  static Result<DropReasons> from_kernel();
  // The enum of a loaded BTF object (tests hand in their own).
  static Result<DropReasons> from_btf(const struct btf* btf);

  // The reason's name without the SKB_DROP_REASON_ prefix ("NETFILTER_DROP",
  // "NOT_SPECIFIED"); a number the enum does not have is "reason_<n>".
  std::string name(std::uint32_t value) const;
  // The value of a name as name() spells it, or as the kernel does
  // (SKB_DROP_REASON_NO_SOCKET, SKB_CONSUMED).
  std::optional<std::uint32_t> value(const std::string& name) const;
  // SKB_NOT_DROPPED_YET and SKB_CONSUMED: values that are no drop. The
  // kernel has no SKB_CONSUMED before 6.2.
  std::uint32_t not_dropped() const { return not_dropped_; }
  std::optional<std::uint32_t> consumed() const { return consumed_; }
  std::size_t size() const { return names_.size(); }

 private:
  std::map<std::uint32_t, std::string> names_;
  std::uint32_t not_dropped_ = 0;
  std::optional<std::uint32_t> consumed_;
};

}  // namespace netring::kevents
